#!/usr/bin/env python3
"""A stand-in WeChat Pay API v3 server for the WeChatPayClient tests, built on wechatpayv3's own utilities.

  wechat_gateway.py --port-file FILE --mchid M --merchant-serial S --merchant-public-key FILE(PEM)
                    --platform-private-key FILE(PEM) --platform-serial S

Serves POST /v3/pay/transactions/native, GET /v3/pay/transactions/out-trade-no/{no}?mchid=…,
POST /v3/refund/domestic/refunds:

  * the request's `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,
    serial_no=…` is checked: mchid and serial_no ours, timestamp within 5 minutes, and the signature
    (SHA256withRSA PKCS#1 v1.5, key loaded with wechatpayv3.utils.load_public_key) over
    "METHOD\\npath?query\\ntimestamp\\nnonce\\nbody\\n" — the string wechatpayv3.utils.build_authorization
    signs. Failures answer 401 {"code":"SIGN_ERROR",…} as WeChat Pay does;
  * trades live in memory: native makes one NOTPAY, query reads it (404 ORDER_NOT_EXIST when unknown),
    refunds (idempotent by out_refund_no, never beyond the total, total must match) need it SUCCESS;
  * every answer is signed as WeChat Pay signs them: Wechatpay-Timestamp/-Nonce/-Serial and
    Wechatpay-Signature = wechatpayv3.utils.rsa_sign(platform key, "ts\\nnonce\\nbody\\n"), checked with the
    SDK's own rsa_verify before it is sent.

A native order's `time_expire` must be RFC 3339 with a numeric offset (e.g. 2026-12-03T22:30:00+08:00) and in
the future (400 PARAM_ERROR otherwise); once it has passed the trade is CLOSED and cannot be paid.

Test hooks: POST /_test/pay?out_trade_no=X marks a trade SUCCESS (409 once the trade has closed); POST /_test/tamper?on=1 makes later
answers change their body after signing. Port, lifetime and signals as alipay_gateway.py.
"""
import argparse
import http.server
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from datetime import datetime
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from wechatpayv3.utils import load_private_key, load_public_key, rsa_sign, rsa_verify


def exit_when_stdin_closes():
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


def pem_body(pem):
    """wechatpayv3's loaders take the base64 body (they add the PKCS#8/SPKI armour themselves)."""
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


def expiry(text):
    """A time_expire as seconds since the epoch; None when absent; ValueError when not RFC 3339 with an offset."""
    if text is None:
        return None
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", text):
        raise ValueError(text)
    return datetime.fromisoformat(text).timestamp()


def close_if_expired(trade):
    if trade["state"] == "NOTPAY" and trade.get("expires") is not None and time.time() >= trade["expires"]:
        trade["state"] = "CLOSED"


def main():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--mchid", required=True)
    parser.add_argument("--merchant-serial", required=True)
    parser.add_argument("--merchant-public-key", required=True)
    parser.add_argument("--platform-private-key", required=True)
    parser.add_argument("--platform-serial", required=True)
    args = parser.parse_args()

    merchant_public = load_public_key(pem_body(read_text(args.merchant_public_key)))
    # Swift writes PKCS#1 ("RSA PRIVATE KEY"); wechatpayv3 wants PKCS#8, so re-armour it first.
    platform_private = load_private_key(pem_body(serialization.load_pem_private_key(
        read_text(args.platform_private_key).encode(), password=None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()))
    platform_public = platform_private.public_key()
    lock = threading.Lock()
    trades = {}
    refunds = {}
    state = {"tamper": False}

    def check_authorization(method, path, body, header):
        if not header or not header.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return "Authorization 头缺失或方案错误"
        fields = dict(re.findall(r'(\w+)="([^"]*)"', header[len("WECHATPAY2-SHA256-RSA2048 "):]))
        if fields.get("mchid") != args.mchid:
            return "商户号不匹配"
        if fields.get("serial_no") != args.merchant_serial:
            return "证书序列号不匹配"
        try:
            timestamp = int(fields.get("timestamp", ""))
        except ValueError:
            return "时间戳错误"
        if abs(time.time() - timestamp) > 300:
            return "时间戳过期"
        message = "%s\n%s\n%s\n%s\n%s\n" % (method, path, fields["timestamp"], fields.get("nonce_str", ""), body)
        try:
            from base64 import b64decode
            merchant_public.verify(b64decode(fields.get("signature", "")), message.encode("utf-8"), PKCS1v15(), SHA256())
        except (InvalidSignature, ValueError):
            return "签名错误"
        return None

    def route(method, url, body):
        query = dict(parse_qsl(url.query))
        with lock:
            if method == "POST" and url.path == "/v3/pay/transactions/native":
                request = json.loads(body)
                if request.get("mchid") != args.mchid or not request.get("appid"):
                    return 400, {"code": "PARAM_ERROR", "message": "mchid 或 appid 错误"}
                total = request.get("amount", {}).get("total")
                if not isinstance(total, int) or total <= 0:
                    return 400, {"code": "PARAM_ERROR", "message": "amount.total 错误"}
                try:
                    expires = expiry(request.get("time_expire"))
                except ValueError:
                    return 400, {"code": "PARAM_ERROR", "message": "time_expire 格式错误"}
                if expires is not None and expires <= time.time():
                    return 400, {"code": "PARAM_ERROR", "message": "time_expire 已过期"}
                no = request["out_trade_no"]
                trade = trades.get(no)
                if trade is not None:
                    close_if_expired(trade)
                if trade is None:
                    trades[no] = {"expires": expires, "appid": request["appid"], "total": total, "state": "NOTPAY",
                                  "transaction_id": None, "refunded": 0}
                elif trade["state"] == "CLOSED":
                    return 400, {"code": "ORDERCLOSED", "message": "订单已关闭"}
                elif trade["state"] != "NOTPAY":
                    return 400, {"code": "ORDERPAID", "message": "该订单已支付"}
                elif trade["total"] != total:
                    return 403, {"code": "OUT_TRADE_NO_USED", "message": "商户订单号重复"}
                return 200, {"code_url": "weixin://wxpay/bizpayurl?pr=%s" % uuid.uuid4().hex[:8]}
            match = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)", url.path)
            if method == "GET" and match:
                if query.get("mchid") != args.mchid:
                    return 400, {"code": "PARAM_ERROR", "message": "mchid 错误"}
                no = unquote(match.group(1))
                trade = trades.get(no)
                if trade is None:
                    return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
                close_if_expired(trade)
                answer = {"appid": trade["appid"], "mchid": args.mchid, "out_trade_no": no,
                          "trade_state": trade["state"], "trade_state_desc": trade["state"],
                          "amount": {"total": trade["total"], "currency": "CNY"}}
                if trade["transaction_id"]:
                    answer["transaction_id"] = trade["transaction_id"]
                    answer["amount"]["payer_total"] = trade["total"]
                return 200, answer
            if method == "POST" and url.path == "/v3/refund/domestic/refunds":
                request = json.loads(body)
                trade = trades.get(request.get("out_trade_no", ""))
                if trade is None:
                    return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
                if trade["state"] not in ("SUCCESS", "REFUND"):
                    return 403, {"code": "NOT_ENOUGH", "message": "订单未支付"}
                amount = request.get("amount", {})
                if amount.get("total") != trade["total"]:
                    return 400, {"code": "PARAM_ERROR", "message": "订单金额与原订单不一致"}
                out_refund_no = request.get("out_refund_no", "")
                refund = refunds.get(out_refund_no)
                if refund is None:
                    value = amount.get("refund")
                    if not isinstance(value, int) or value <= 0 or trade["refunded"] + value > trade["total"]:
                        return 403, {"code": "NOT_ENOUGH", "message": "退款金额超过可退金额"}
                    trade["refunded"] += value
                    trade["state"] = "REFUND"
                    refund = refunds[out_refund_no] = {
                        "refund_id": "5030%s" % uuid.uuid4().hex[:24], "out_refund_no": out_refund_no,
                        "transaction_id": trade["transaction_id"], "out_trade_no": request["out_trade_no"],
                        "status": "PROCESSING",
                        "amount": {"refund": value, "total": trade["total"], "currency": "CNY"}}
                return 200, refund
        return 404, {"code": "NOT_FOUND", "message": "未知接口"}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, status, content, signed=True):
            body = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
            self.send_response(status)
            if signed:
                timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
                signature = rsa_sign(platform_private, "%s\n%s\n%s\n" % (timestamp, nonce, body))
                assert rsa_verify(timestamp, nonce, body, signature, platform_public)
                if state["tamper"]:
                    body = body.replace("weixin://", "weixin://evil.") if "weixin://" in body else body + " "
                self.send_header("Wechatpay-Timestamp", timestamp)
                self.send_header("Wechatpay-Nonce", nonce)
                self.send_header("Wechatpay-Signature", signature)
                self.send_header("Wechatpay-Serial", args.platform_serial)
            data = body.encode("utf-8")
            self.send_header("Content-Type", "application/json")
            self.send_header("Request-ID", uuid.uuid4().hex)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query))
            if url.path == "/_test/pay":
                with lock:
                    trade = trades.get(query.get("out_trade_no", ""))
                    if trade is None:
                        return self.answer(404, {"error": "no such trade"}, signed=False)
                    close_if_expired(trade)
                    if trade["state"] == "CLOSED":
                        return self.answer(409, {"error": "the trade has closed (time_expire passed)"}, signed=False)
                    trade["state"] = "SUCCESS"
                    trade["transaction_id"] = trade["transaction_id"] or "4200%s" % uuid.uuid4().hex[:24]
                return self.answer(200, {}, signed=False)
            if url.path == "/_test/tamper":
                state["tamper"] = query.get("on") == "1"
                return self.answer(200, {}, signed=False)
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                return self.answer(400, {"code": "PARAM_ERROR", "message": "body 不是 UTF-8"})
            problem = check_authorization(self.command, self.path, body, self.headers.get("Authorization"))
            if problem:
                return self.answer(401, {"code": "SIGN_ERROR", "message": problem})
            try:
                status, content = route(self.command, url, body)
            except (ValueError, KeyError, AttributeError) as error:
                status, content = 400, {"code": "PARAM_ERROR", "message": "请求体错误: %s" % error}
            self.answer(status, content)

        do_GET = do_POST = handle_any

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
