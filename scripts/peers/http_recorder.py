#!/usr/bin/env python3
"""A tiny HTTP peer for the StripeClient tests: records every request it receives and answers with a
canned response (re-read from its file for every request, so it can be changed). Used two ways:

  * as the webhook endpoint localstripe posts events to, so the test gets the exact bytes and
    Stripe-Signature header that were sent;
  * as a stand-in Stripe that lets the test read the exact request StripeClient sent (headers, body).

  http_recorder.py --log FILE --port-file FILE [--status N] [--body-file FILE] [--hang]

Listens on a free 127.0.0.1 port and writes it to the port file (renamed into place, so a reader never
sees half of it). Every request is appended to
FILE as one JSON line {"method", "path", "headers": {name: value}, "body_base64"}. With --hang it never
answers (for timeout tests). Stops on SIGTERM or when its stdin closes (so it never outlives the test
that started it). Foundation's Process on Linux starts children with most signals blocked, so they are
unblocked first.
"""
import argparse
import base64
import http.server
import json
import os
import signal
import sys
import threading
import time


def exit_when_stdin_closes():
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


def main():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--body-file")
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    lock = threading.Lock()

    def canned():
        # Read per request, so a test can change the answer between calls (the file is replaced atomically).
        if not args.body_file:
            return b"{}"
        with open(args.body_file, "rb") as f:
            return f.read()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            received = self.rfile.read(length) if length else b""
            record = {
                "method": self.command,
                "path": self.path,
                "headers": {name: value for name, value in self.headers.items()},
                "body_base64": base64.b64encode(received).decode("ascii"),
            }
            with lock, open(args.log, "a") as log:
                log.write(json.dumps(record) + "\n")
            if args.hang:
                time.sleep(3600)
                return
            body = canned()
            self.send_response(args.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = handle_any

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
