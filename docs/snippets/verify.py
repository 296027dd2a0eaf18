"""Verify an ordersync webhook: python3 verify.py SECRET ID TIMESTAMP SIGNATURE < body"""

import base64
import hashlib
import hmac
import sys
import time


def verify(secret: str, headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """True when ``body`` (the raw bytes received) was signed with ``secret`` recently."""
    h = {k.lower(): v for k, v in headers.items()}
    msg_id, ts = h.get("webhook-id", ""), h.get("webhook-timestamp", "")
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12):
        return False
    if abs(time.time() - int(ts)) > tolerance:
        return False
    parts = [p.strip().partition("=") for p in h.get("webhook-signature", "").split(",")]
    if ("t", "=", ts) not in parts:
        return False
    mac = hmac.new(secret.encode(), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256)
    expected = base64.b64encode(mac.digest()).decode()
    return any(
        k == "v1" and hmac.compare_digest(v.encode(), expected.encode()) for k, _, v in parts
    )


if __name__ == "__main__":
    secret, msg_id, ts, signature = sys.argv[1:5]
    headers = {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": signature}
    ok = verify(secret, headers, sys.stdin.buffer.read())
    print("valid" if ok else "invalid")
    sys.exit(0 if ok else 1)
