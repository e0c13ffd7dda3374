"""
webhook_receiver.py — a real HTTP receiver for alert deliveries, for tests.

It records every request (path, headers, body) and verifies costlynx's webhook signature
the way a customer's receiver would: X-Costlynx-Signature must be
"sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)) and X-Costlynx-Timestamp within
the tolerance of now. Standard library only (Debian's /usr/bin/python3).

As a module (black-box tests):   r = WebhookReceiver(secret=b"s"); r.start(); ... r.requests; r.stop()
As a program (the C unit tests): python3 webhook_receiver.py --port 0 --secret s --log file.jsonl
    prints "listening <port>" once bound; appends one JSON line per request to the log.
Options: --fail N answers 500 to the first N requests; --status S answers S to every request;
--hang N holds the first N requests without answering (for client timeouts).
"""
import argparse
import hashlib
import hmac
import http.server
import json
import sys
import threading
import time

TOLERANCE_S = 300


def verify(secret, headers, body, now=None, tolerance=TOLERANCE_S):
    """True when the request carries a valid, fresh signature for body under secret."""
    ts = headers.get("X-Costlynx-Timestamp", "")
    sig = headers.get("X-Costlynx-Signature", "")
    if not ts.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(ts)) > tolerance:
        return False  # too old (a replay) or from a skewed clock
    want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig)


class WebhookReceiver:
    def __init__(self, secret=None, port=0, fail_first=0, status=200, hang_first=0, log_path=None):
        self.secret = secret
        self.fail_first = fail_first
        self.status = status
        self.hang_first = hang_first
        self.log_path = log_path
        self.requests = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                headers = {k: v for k, v in self.headers.items()}
                verified = verify(receiver.secret, headers, body) if receiver.secret is not None else None
                with receiver.lock:
                    index = len(receiver.requests)
                    if index < receiver.hang_first:
                        status = 0
                    elif index < receiver.hang_first + receiver.fail_first:
                        status = 500
                    elif verified is False:
                        status = 401
                    else:
                        status = receiver.status
                    rec = {"path": self.path, "headers": headers, "body": body.decode("utf-8", "replace"),
                           "verified": verified, "status": status}
                    receiver.requests.append(rec)
                    if receiver.log_path:
                        with open(receiver.log_path, "a") as f:
                            f.write(json.dumps(rec) + "\n")
                if status == 0:
                    receiver.release.wait(30)  # never answer in time
                    return
                answer = b'{"ok":true}' if status < 300 else b'{"error":"test receiver says %d"}' % status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret")
    ap.add_argument("--log")
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--hang", type=int, default=0)
    a = ap.parse_args()
    r = WebhookReceiver(secret=a.secret.encode() if a.secret is not None else None, port=a.port,
                        fail_first=a.fail, status=a.status, hang_first=a.hang, log_path=a.log)
    print("listening %d" % r.port, flush=True)
    try:
        r.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
