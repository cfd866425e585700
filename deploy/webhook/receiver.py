#!/usr/bin/env python3
"""A minimal receiver for pantau's webhook sink that verifies every request.

pantau signs each POST with HMAC-SHA256 over "<timestamp>.<body>":
    X-Pantau-Timestamp: 1764288000
    X-Pantau-Signature: sha256=<hex digest>
    X-Pantau-Alert-Id:  <alert_id>   (the same on a redelivery)

A request is accepted only if the timestamp is within TOLERANCE seconds of now
and the signature matches the raw body; anything else gets 401 and is not
stored. Accepted requests are appended to --out as one JSON line each.

    PANTAU_WEBHOOK_SECRET=... python3 receiver.py --port 8088 --out received.ndjson
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300  # seconds


def verify(secret: bytes, timestamp: str, signature: str, body: bytes) -> str | None:
    """None when the request is authentic, else the reason it is not."""
    try:
        t = int(timestamp)
    except (TypeError, ValueError):
        return "missing or malformed X-Pantau-Timestamp"
    if abs(time.time() - t) > TOLERANCE:
        return "timestamp outside the tolerance (replay?)"
    if not signature or not signature.startswith("sha256="):
        return "missing or malformed X-Pantau-Signature"
    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature[len("sha256="):]):
        return "signature does not match the body"
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--secret-env", default="PANTAU_WEBHOOK_SECRET")
    args = ap.parse_args()
    secret = os.environ.get(args.secret_env, "").encode()
    if not secret:
        sys.exit(f"{args.secret_env} is not set")
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            problem = verify(
                secret,
                self.headers.get("X-Pantau-Timestamp", ""),
                self.headers.get("X-Pantau-Signature", ""),
                body,
            )
            if problem:
                self.send_response(401)
                self.end_headers()
                self.wfile.write(problem.encode() + b"\n")
                return
            alert = json.loads(body)
            # Deliveries are at least once: a redelivered alert has the same id.
            if alert["alert_id"] not in seen:
                seen.add(alert["alert_id"])
                with open(args.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps({
                        "timestamp": self.headers["X-Pantau-Timestamp"],
                        "signature": self.headers["X-Pantau-Signature"],
                        "body": body.decode(),
                    }) + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    print(f"listening on {args.host}:{args.port}", flush=True)
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
