#!/usr/bin/env python3
"""A stand-in PayPal REST API (OAuth 2, Orders v2, captures, refunds, webhooks) for the PayPal tests.

  paypal_gateway.py --port-file FILE --client-id ID --client-secret SECRET --webhook-id WH

PayPal's real endpoints are unreachable here, so this plays them, as PayPal documents them:

  * POST /v1/oauth2/token: HTTP Basic with the client id and secret, grant_type=client_credentials, answers
    an access token (expires_in 32400). Every other call needs `Authorization: Bearer <that token>`, else 401
    {"error":"invalid_token"}; POST /_test/expire-tokens makes every issued token invalid (our client must
    fetch a new one and retry once);
  * POST /v2/checkout/orders (intent CAPTURE, one purchase unit, amount value with exactly the currency's
    decimals, payment_source.paypal.experience_context.return_url/cancel_url, invoice_id unique): answers
    PAYER_ACTION_REQUIRED with a `payer-action` link to GET /checkoutnow?token=ID (the payer's approval page:
    marks the order APPROVED and redirects to return_url?token=ID&PayerID=…). A repeated PayPal-Request-Id
    answers the first answer again; a second order with the same invoice_id is 422 DUPLICATE_INVOICE_ID;
  * GET /v2/checkout/orders/{id}; POST /v2/checkout/orders/{id}/capture (422 ORDER_NOT_APPROVED before
    approval, ORDER_ALREADY_CAPTURED after, the first answer again for a repeated PayPal-Request-Id);
  * POST /v2/payments/captures/{id}/refund (amount optional, never beyond what is left; PayPal-Request-Id);
  * webhooks are signed as PayPal signs them: SHA256withRSA over
    paypalrestsdk.notifications.WebhookEvent._get_expected_sig(transmission id, time, webhook id, body) —
    the PayPal SDK's own construction, "<id>|<time>|<webhook id>|<crc32 of the body>" — with the key of a
    leaf certificate (CN messageverificationcerts.paypal.com) issued by an intermediate under a test root CA,
    served as a PEM chain at GET /v1/notifications/certs/CERT-stand-in; GET /_test/ca gives the root to trust;
  * POST /v1/notifications/verify-webhook-signature (PayPal's verify API): checks webhook_id, cert_url and
    the signature over the exact bytes of the `webhook_event` member as sent, answers SUCCESS or FAILURE.

Test hooks: GET /_test/approve?token=ID (approve without the redirect; answers the return URL);
GET /_test/webhook?type=T&token=ID[&age=S][&rogue=1] answers {"headers": {...}, "body": "..."}: a signed
delivery of event type T (CHECKOUT.ORDER.APPROVED with the order, PAYMENT.CAPTURE.COMPLETED/DENIED with its
capture, CUSTOMER.DISPUTE.CREATED/RESOLVED [&outcome=RESOLVED_SELLER_FAVOUR] on its capture) that the test posts; `age` back-dates the transmission time, `rogue` signs with a
self-issued certificate that does not chain to the root. Port, lifetime and signals as alipay_gateway.py.
"""
import argparse
import base64
import datetime
import http.server
import json
import os
import re
import secrets
import signal
import sys
import threading
import uuid
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from paypalrestsdk.notifications import WebhookEvent

DECIMALS = {"JPY": 0, "KRW": 0, "TWD": 0, "HUF": 0}


def exit_when_stdin_closes():
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


def make_certificate(subject_cn, issuer_name, issuer_key, key, ca, path_length=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Recharge tests")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject_cn)]), critical=False)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if issuer_key is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def decimal(units, code):
    digits = DECIMALS.get(code, 2)
    return str(units) if digits == 0 else "%d.%0*d" % (units // 10 ** digits, digits, units % 10 ** digits)


def pem(*certificates):
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def main():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--webhook-id", required=True)
    args = parser.parse_args()

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = make_certificate("Recharge Test Root CA", None, None, root_key, ca=True, path_length=1)
    intermediate_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    intermediate = make_certificate("Recharge Test Intermediate CA", root.subject, root_key, intermediate_key, ca=True, path_length=0)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = make_certificate("messageverificationcerts.paypal.com", intermediate.subject, intermediate_key, leaf_key, ca=False)
    rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rogue = make_certificate("messageverificationcerts.paypal.com", None, None, rogue_key, ca=False)

    lock = threading.Lock()
    tokens = set()
    orders = {}
    captures = {}
    by_request_id = {}
    invoices = set()
    base = {"url": None}

    def error(status, name, issue, message):
        return status, {"name": name, "message": message, "debug_id": uuid.uuid4().hex[:13],
                        "details": [{"issue": issue, "description": message}] if issue else []}

    def order_view(order):
        unit = {"reference_id": order["reference_id"], "custom_id": order["custom_id"], "invoice_id": order["invoice_id"],
                "amount": order["amount"]}
        if order["captures"]:
            unit["payments"] = {"captures": [{k: v for k, v in captures[c].items() if k != "refunded"} for c in order["captures"]]}
        view = {"id": order["id"], "intent": "CAPTURE", "status": order["status"], "purchase_units": [unit],
                "links": [{"href": "%s/v2/checkout/orders/%s" % (base["url"], order["id"]), "rel": "self", "method": "GET"}]}
        if order["status"] == "PAYER_ACTION_REQUIRED":
            view["links"].append({"href": "%s/checkoutnow?token=%s" % (base["url"], order["id"]), "rel": "payer-action", "method": "GET"})
        if order["status"] == "APPROVED":
            view["links"].append({"href": "%s/v2/checkout/orders/%s/capture" % (base["url"], order["id"]), "rel": "capture", "method": "POST"})
        if order["payer"]:
            view["payer"] = order["payer"]
        return view

    def check_amount(amount):
        code = amount.get("currency_code", "")
        value = amount.get("value", "")
        digits = DECIMALS.get(code, 2)
        pattern = r"\d+" if digits == 0 else r"\d+\.\d{%d}" % digits
        if not re.fullmatch(r"[A-Z]{3}", code) or not isinstance(value, str) or not re.fullmatch(pattern, value):
            return None
        units = int(value.replace(".", ""))
        return units if units > 0 else None

    def approve(order_id):
        order = orders.get(order_id)
        if order is None or order["status"] not in ("PAYER_ACTION_REQUIRED", "APPROVED"):
            return None
        order["status"] = "APPROVED"
        order["payer"] = {"payer_id": order.get("payer_id") or secrets.token_hex(6).upper(), "email_address": "payer@example.com"}
        order["payer_id"] = order["payer"]["payer_id"]
        return "%s%stoken=%s&PayerID=%s" % (order["return_url"], "&" if "?" in order["return_url"] else "?", order_id, order["payer_id"])

    def route(method, path, body, request_id):
        if method == "POST" and path == "/v2/checkout/orders":
            request = json.loads(body)
            units = request.get("purchase_units") or []
            if request.get("intent") != "CAPTURE" or len(units) != 1:
                return error(400, "INVALID_REQUEST", "INVALID_PARAMETER_VALUE", "intent must be CAPTURE with one purchase unit")
            unit = units[0]
            if check_amount(unit.get("amount", {})) is None:
                return error(422, "UNPROCESSABLE_ENTITY", "DECIMAL_PRECISION", "amount.value is not valid for the currency")
            context = request.get("payment_source", {}).get("paypal", {}).get("experience_context", {})
            if not context.get("return_url") or not context.get("cancel_url"):
                return error(422, "UNPROCESSABLE_ENTITY", "MISSING_REQUIRED_PARAMETER",
                             "experience_context.return_url and cancel_url are required")
            invoice = unit.get("invoice_id")
            if invoice in invoices:
                return error(422, "UNPROCESSABLE_ENTITY", "DUPLICATE_INVOICE_ID", "Duplicate Invoice ID detected.")
            if invoice:
                invoices.add(invoice)
            order_id = secrets.token_hex(9).upper()[:17]
            orders[order_id] = {"id": order_id, "status": "PAYER_ACTION_REQUIRED", "reference_id": unit.get("reference_id", "default"),
                                "custom_id": unit.get("custom_id"), "invoice_id": invoice, "amount": unit["amount"],
                                "return_url": context["return_url"], "cancel_url": context["cancel_url"], "captures": [], "payer": None}
            return 201, order_view(orders[order_id])
        match = re.fullmatch(r"/v2/checkout/orders/([A-Z0-9]+)(/capture)?", path)
        if match:
            order = orders.get(match.group(1))
            if order is None:
                return error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "Specified resource ID does not exist.")
            if method == "GET" and not match.group(2):
                return 200, order_view(order)
            if method == "POST" and match.group(2):
                if order["status"] == "COMPLETED":
                    return error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED", "Order already captured.")
                if order["status"] != "APPROVED":
                    return error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.")
                capture_id = secrets.token_hex(9).upper()[:17]
                captures[capture_id] = {"id": capture_id, "status": "COMPLETED", "amount": dict(order["amount"]), "final_capture": True,
                                        "custom_id": order["custom_id"], "invoice_id": order["invoice_id"], "refunded": 0,
                                        "supplementary_data": {"related_ids": {"order_id": order["id"]}},
                                        "create_time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
                order["captures"].append(capture_id)
                order["status"] = "COMPLETED"
                return 201, order_view(order)
        match = re.fullmatch(r"/v2/payments/captures/([A-Z0-9]+)/refund", path)
        if match and method == "POST":
            capture = captures.get(match.group(1))
            if capture is None:
                return error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "Specified resource ID does not exist.")
            request = json.loads(body) if body.strip() else {}
            total = check_amount(capture["amount"])
            amount = request.get("amount")
            units = total - capture["refunded"] if amount is None else check_amount(amount)
            if amount is not None and amount.get("currency_code") != capture["amount"]["currency_code"]:
                return error(422, "UNPROCESSABLE_ENTITY", "CURRENCY_MISMATCH", "Currency of capture must be the same as currency of refund.")
            if units is None or units <= 0 or capture["refunded"] + units > total:
                return error(422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED", "The refund amount must be less than or equal to the capture amount that has not yet been refunded.")
            capture["refunded"] += units
            capture["status"] = "REFUNDED" if capture["refunded"] == total else "PARTIALLY_REFUNDED"
            refund_id = secrets.token_hex(9).upper()[:17]
            return 201, {"id": refund_id, "status": "COMPLETED", "invoice_id": request.get("invoice_id"),
                         "amount": amount or {"currency_code": capture["amount"]["currency_code"], "value": decimal(units, capture["amount"]["currency_code"])}}
        if method == "POST" and path == "/v1/notifications/verify-webhook-signature":
            # The event's exact bytes as sent: everything after "webhook_event": up to the final brace.
            marker = body.find('"webhook_event":')
            if marker < 0 or not body.rstrip().endswith("}"):
                return error(400, "VALIDATION_ERROR", "MISSING_REQUIRED_PARAMETER", "webhook_event is required")
            event_text = body[marker + len('"webhook_event":'):body.rstrip().rfind("}")]
            request = json.loads(body)
            ok = (request.get("webhook_id") == args.webhook_id and request.get("auth_algo") == "SHA256withRSA"
                  and request.get("cert_url") == "%s/v1/notifications/certs/CERT-stand-in" % base["url"])
            if ok:
                message = WebhookEvent._get_expected_sig(request["transmission_id"], request["transmission_time"], request["webhook_id"], event_text)
                try:
                    leaf.public_key().verify(base64.b64decode(request["transmission_sig"]), message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
                except (InvalidSignature, ValueError):
                    ok = False
            return 200, {"verification_status": "SUCCESS" if ok else "FAILURE"}
        return error(404, "RESOURCE_NOT_FOUND", None, "no such endpoint")

    def webhook(event_type, order_id, age, use_rogue, outcome=None):
        order = orders.get(order_id)
        if order is None:
            return None
        if event_type == "CHECKOUT.ORDER.APPROVED":
            resource_type, resource = "checkout-order", order_view(order)
        elif event_type.startswith("CUSTOMER.DISPUTE."):
            if not order["captures"]:
                return None
            capture = captures[order["captures"][-1]]
            resolved = event_type == "CUSTOMER.DISPUTE.RESOLVED"
            resource_type, resource = "dispute", {
                "dispute_id": "PP-D-%s" % order["id"][-8:], "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                "status": "RESOLVED" if resolved else "OPEN", "dispute_life_cycle_stage": "CHARGEBACK",
                "disputed_transactions": [{"seller_transaction_id": capture["id"], "seller": {"merchant_id": "STANDIN"}}],
                "dispute_amount": dict(capture["amount"])}
            if resolved:
                resource["dispute_outcome"] = {"outcome_code": outcome or "RESOLVED_BUYER_FAVOUR"}
        else:
            if not order["captures"]:
                return None
            capture = dict(captures[order["captures"][-1]])
            capture.pop("refunded", None)
            if event_type == "PAYMENT.CAPTURE.DENIED":
                capture["status"] = "DECLINED"
            resource_type, resource = "capture", capture
        event = {"id": "WH-%s" % uuid.uuid4().hex[:24].upper(), "event_version": "1.0",
                 "create_time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                 "resource_type": resource_type, "resource_version": "2.0", "event_type": event_type,
                 "summary": "stand-in %s" % event_type, "resource": resource}
        body = json.dumps(event, separators=(",", ":"))
        sent = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=age)
        transmission_time = sent.strftime("%Y-%m-%dT%H:%M:%SZ")
        transmission_id = str(uuid.uuid4())
        message = WebhookEvent._get_expected_sig(transmission_id, transmission_time, args.webhook_id, body)
        key, cert_name = (rogue_key, "CERT-rogue") if use_rogue else (leaf_key, "CERT-stand-in")
        signature = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        (rogue if use_rogue else leaf).public_key().verify(signature, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return {"headers": {"PAYPAL-TRANSMISSION-ID": transmission_id, "PAYPAL-TRANSMISSION-TIME": transmission_time,
                            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
                            "PAYPAL-CERT-URL": "%s/v1/notifications/certs/%s" % (base["url"], cert_name),
                            "PAYPAL-AUTH-ALGO": "SHA256withRSA"},
                "body": body}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, status, content, content_type="application/json", headers=None):
            data = (content if isinstance(content, str) else json.dumps(content, separators=(",", ":"))).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Paypal-Debug-Id", uuid.uuid4().hex[:13])
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query))
            path = url.path
            with lock:
                if path == "/_test/ca":
                    return self.answer(200, pem(root), "application/x-pem-file")
                if path == "/_test/expire-tokens":
                    tokens.clear()
                    return self.answer(200, {})
                if path == "/_test/approve":
                    target = approve(query.get("token", ""))
                    return self.answer(200 if target else 404, {"return_url": target})
                if path == "/_test/webhook":
                    delivery = webhook(query.get("type", ""), query.get("token", ""), int(query.get("age", "0")), query.get("rogue") == "1",
                                       query.get("outcome"))
                    return self.answer(200 if delivery else 404, delivery or {"error": "no such order or capture"})
                if path == "/v1/notifications/certs/CERT-stand-in":
                    return self.answer(200, pem(leaf, intermediate), "application/x-pem-file")
                if path == "/v1/notifications/certs/CERT-rogue":
                    return self.answer(200, pem(rogue), "application/x-pem-file")
                if path == "/checkoutnow":
                    target = approve(query.get("token", ""))
                    if target is None:
                        return self.answer(404, "<p>This order cannot be approved.</p>", "text/html")
                    return self.answer(302, "", "text/html", {"Location": target})
                if path == "/v1/oauth2/token":
                    expected = "Basic " + base64.b64encode(("%s:%s" % (args.client_id, args.client_secret)).encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        return self.answer(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
                    if dict(parse_qsl(raw.decode())).get("grant_type") != "client_credentials":
                        return self.answer(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
                    token = "A21AA" + secrets.token_urlsafe(32)
                    tokens.add(token)
                    return self.answer(200, {"scope": "https://uri.paypal.com/services/payments/payment", "access_token": token,
                                             "token_type": "Bearer", "app_id": "APP-STANDIN", "expires_in": 32400, "nonce": uuid.uuid4().hex})
                authorization = self.headers.get("Authorization", "")
                if not authorization.startswith("Bearer ") or authorization[len("Bearer "):] not in tokens:
                    return self.answer(401, {"error": "invalid_token", "error_description": "Token signature verification failed"})
                request_id = self.headers.get("PayPal-Request-Id")
                remembered = by_request_id.get((path, request_id)) if request_id and self.command == "POST" else None
                if remembered:
                    return self.answer(*remembered)
                try:
                    status, content = route(self.command, path, raw.decode("utf-8"), request_id)
                except (ValueError, KeyError, AttributeError, TypeError) as problem:
                    status, content = error(400, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON", "malformed request: %s" % problem)
                if request_id and self.command == "POST" and status < 500:
                    by_request_id[(path, request_id)] = (status, content)
                return self.answer(status, content)

        do_GET = do_POST = handle_any

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base["url"] = "http://127.0.0.1:%d" % server.server_address[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
