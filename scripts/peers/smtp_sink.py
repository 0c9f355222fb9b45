#!/usr/bin/env python3
"""SMTP test peer for RechargeMessaging: a real aiosmtpd server that keeps every message it accepts.

Each accepted message is written to DIR as <n>.json (envelope, AUTH login, whether the session was TLS)
plus <n>.eml (the raw DATA bytes exactly as received), so the Swift integration tests can read back what
the server got. Recipients named reject-perm@… are refused with 550 and reject-temp@… with 451, so the
client's permanent/transient error split is checked against a real server's replies.
"""
import argparse
import asyncio
import json
import os
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERS = {"recharge": "s3cret-密码"}


class Authenticator:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if USERS.get(user) == password:
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local == "reject-perm":
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if local == "reject-temp":
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = "%d-%06d" % (os.getpid(), self.count)
        raw = envelope.original_content or envelope.content
        with open(os.path.join(self.directory, n + ".eml"), "wb") as f:
            f.write(raw)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth": session.auth_data if session.authenticated else None,
            "tls": session.ssl is not None,
            "eml": n + ".eml",
        }
        tmp = os.path.join(self.directory, n + ".json.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.replace(tmp, os.path.join(self.directory, n + ".json"))
        return "250 2.0.0 Ok: queued as %s" % n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert", help="PEM certificate; with --key, STARTTLS is offered")
    parser.add_argument("--key")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    tls_context = None
    if args.cert and args.key:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.cert, args.key)

    controller = Controller(
        Sink(args.dir),
        hostname=args.host,
        port=args.port,
        server_hostname="smtp-sink.recharge.test",
        tls_context=tls_context,
        authenticator=Authenticator(),
        # Plain-text AUTH is allowed so both paths (with and without STARTTLS) can be tested.
        auth_require_tls=False,
    )
    controller.start()
    print("smtp_sink listening on %s:%d, saving to %s" % (args.host, args.port, args.dir), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
