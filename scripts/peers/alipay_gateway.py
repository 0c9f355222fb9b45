#!/usr/bin/env python3
"""A stand-in Alipay OpenAPI gateway for the AlipayClient tests, built on python-alipay-sdk's own code.

  alipay_gateway.py --port-file FILE --app-id ID --merchant-public-key FILE(PEM) --alipay-private-key FILE(PEM)

Answers form POSTs (any path, as gateway.do) for alipay.trade.precreate, alipay.trade.query and
alipay.trade.refund:

  * the request's `sign` is checked with the SDK's own verification (AliPay._ordered_data + AliPay._verify,
    SHA256withRSA) against the merchant public key. The string is every parameter but `sign`, sign_type
    included (AliPay.verify drops sign_type, which is right for notifications only, so it is not used here).
    A bad signature, app_id, charset or sign_type is refused as Alipay does: code 40002 isv.invalid-*;
  * trades live in memory: precreate makes one WAIT_BUYER_PAY, query reads it (40004 ACQ.TRADE_NOT_EXIST
    for an unknown one), refund (idempotent by out_request_no, never beyond the total) needs it paid;
  * every answer is `{"<method>_response":{…},"sign":"…"}` where sign is the SDK's AliPay._sign (with the
    "Alipay" private key) over the exact JSON text of the response object, and, before it is sent, the
    SDK's own client-side check (_verify_and_return_sync_response) must accept it.

A precreate's `time_expire` ("yyyy-MM-dd HH:mm:ss", Beijing time) must be well formed and in the future
(40004 ACQ.INVALID_PARAMETER otherwise); once it has passed the trade is TRADE_CLOSED and cannot be paid.

Test hooks: POST /_test/pay?out_trade_no=X marks a trade TRADE_SUCCESS (409 once the trade has closed); POST /_test/tamper?on=1 makes every
later answer change its response text after signing. Listens on a free 127.0.0.1 port, written to the port
file. Stops on SIGTERM or when its stdin closes (Foundation's Process on Linux starts children with
signals blocked, so they are unblocked first).
"""
import argparse
import http.server
import json
import os
import signal
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

from alipay import AliPay
from cryptography.hazmat.primitives import serialization


def exit_when_stdin_closes():
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


def public_pem_of(private_pem):
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


BEIJING = timezone(timedelta(hours=8))


def expiry(text):
    """A time_expire as seconds since the epoch; None when absent; ValueError when malformed."""
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).timestamp()


def close_if_expired(trade):
    if trade["status"] == "WAIT_BUYER_PAY" and trade.get("expires") is not None and time.time() >= trade["expires"]:
        trade["status"] = "TRADE_CLOSED"


def fen(text):
    return int(Decimal(text) * 100)


def yuan(amount_fen):
    return "%d.%02d" % divmod(amount_fen, 100)


def main():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--merchant-public-key", required=True)
    parser.add_argument("--alipay-private-key", required=True)
    args = parser.parse_args()

    alipay_private = read_text(args.alipay_private_key)
    # The SDK object, turned around: it signs with Alipay's key and verifies with the merchant's.
    gateway = AliPay(appid=args.app_id, app_private_key_string=alipay_private,
                     alipay_public_key_string=read_text(args.merchant_public_key), sign_type="RSA2")
    # The SDK as a merchant would hold it, to check every answer the way the SDK's client does.
    merchant_view = AliPay(appid=args.app_id, app_private_key_string=alipay_private,
                           alipay_public_key_string=public_pem_of(alipay_private), sign_type="RSA2")
    lock = threading.Lock()
    trades = {}
    state = {"tamper": False}

    def respond_signed(method, content):
        response_type = method.replace(".", "_") + "_response"
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        sign = gateway._sign(text)
        body = '{"%s":%s,"sign":"%s"}' % (response_type, text, sign)
        merchant_view._verify_and_return_sync_response(body, response_type)  # raises if the SDK would refuse
        if state["tamper"]:
            tampered = dict(content, msg=content.get("msg", "") + " (tampered)")
            body = '{"%s":%s,"sign":"%s"}' % (
                response_type, json.dumps(tampered, ensure_ascii=False, separators=(",", ":")), sign)
        return body

    def invalid(sub_code, sub_msg):
        return {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": sub_msg}

    def business(sub_code, sub_msg):
        return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def handle(params):
        method = params.get("method", "")
        sign = params.pop("sign", "")
        unsigned = "&".join("{}={}".format(k, v) for k, v in gateway._ordered_data(dict(params)) if v != "")
        try:
            valid = bool(sign) and gateway._verify(unsigned, sign)
        except Exception:
            valid = False
        if not valid:
            return method, invalid("isv.invalid-signature", "验签出错")
        if params.get("app_id") != args.app_id:
            return method, invalid("isv.invalid-app-id", "无效的AppID参数")
        if params.get("sign_type") != "RSA2" or params.get("charset", "").lower() != "utf-8" \
                or params.get("format", "JSON") != "JSON" or params.get("version") != "1.0":
            return method, invalid("isv.invalid-parameter", "公共参数错误")
        try:
            biz = json.loads(params.get("biz_content", ""))
        except ValueError:
            return method, invalid("isv.invalid-parameter", "biz_content 不是 JSON")
        out_trade_no = biz.get("out_trade_no", "")
        with lock:
            trade = trades.get(out_trade_no)
            if trade is not None:
                close_if_expired(trade)
            if method == "alipay.trade.precreate":
                try:
                    expires = expiry(biz.get("time_expire"))
                except ValueError:
                    return method, business("ACQ.INVALID_PARAMETER", "time_expire 格式错误")
                if expires is not None and expires <= time.time():
                    return method, business("ACQ.INVALID_PARAMETER", "time_expire 已过期")
                if trade is None:
                    trade = trades[out_trade_no] = {"expires": expires,
                        "total_fen": fen(biz["total_amount"]), "subject": biz.get("subject", ""),
                        "status": "WAIT_BUYER_PAY", "trade_no": None, "refunds": {},
                        "notify_url": params.get("notify_url")}
                elif trade["total_fen"] != fen(biz["total_amount"]) or trade["status"] != "WAIT_BUYER_PAY":
                    return method, business("ACQ.TRADE_HAS_SUCCESS" if trade["status"] != "WAIT_BUYER_PAY"
                                            else "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
                return method, {"code": "10000", "msg": "Success", "out_trade_no": out_trade_no,
                                "qr_code": "https://qr.alipay.com/bax0%s" % uuid.uuid4().hex[:20]}
            if trade is None:
                return method, business("ACQ.TRADE_NOT_EXIST", "交易不存在")
            if method == "alipay.trade.query":
                content = {"code": "10000", "msg": "Success", "out_trade_no": out_trade_no,
                           "trade_status": trade["status"], "total_amount": yuan(trade["total_fen"])}
                if trade["trade_no"]:
                    content["trade_no"] = trade["trade_no"]
                return method, content
            if method == "alipay.trade.refund":
                if trade["status"] not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
                    return method, business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
                request_no = biz.get("out_request_no") or out_trade_no
                amount = fen(biz["refund_amount"])
                previous = trade["refunds"].get(request_no)
                if previous is None:
                    if amount <= 0 or sum(trade["refunds"].values()) + amount > trade["total_fen"]:
                        return method, business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
                    trade["refunds"][request_no] = amount
                elif previous != amount:
                    return method, business("ACQ.REFUND_AMT_RESTRICTION", "同一退款请求号金额不一致")
                return method, {"code": "10000", "msg": "Success", "out_trade_no": out_trade_no,
                                "trade_no": trade["trade_no"], "fund_change": "Y" if previous is None else "N",
                                "refund_fee": yuan(sum(trade["refunds"].values()))}
        return method, invalid("isv.invalid-method", "不存在的方法名")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def send_body(self, status, body, content_type="application/json;charset=utf-8"):
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query))
            if url.path == "/_test/pay":
                with lock:
                    trade = trades.get(query.get("out_trade_no", ""))
                    if trade is None:
                        return self.send_body(404, '{"error":"no such trade"}')
                    close_if_expired(trade)
                    if trade["status"] == "TRADE_CLOSED":
                        return self.send_body(409, '{"error":"the trade has closed (time_expire passed)"}')
                    trade["status"] = "TRADE_SUCCESS"
                    trade["trade_no"] = trade["trade_no"] or "2026" + uuid.uuid4().hex[:24]
                return self.send_body(200, "{}")
            if url.path == "/_test/tamper":
                state["tamper"] = query.get("on") == "1"
                return self.send_body(200, "{}")
            self.gateway_call(raw.decode("utf-8", errors="replace"))

        def do_GET(self):
            # The SDK's own client (verified_sync_response) sends the signed parameters as a GET query.
            self.gateway_call(urlsplit(self.path).query)

        def gateway_call(self, form):
            try:
                params = dict(parse_qsl(form, keep_blank_values=True, strict_parsing=True))
            except ValueError:
                params = {}
            method, content = handle(params)
            self.send_body(200, respond_signed(method or "error", content))

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
