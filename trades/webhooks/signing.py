"""Signing webhook requests, and verifying them on the receiving side.

Standard Webhooks style, with Stripe's ``t=…,v1=…`` header: the signed content is
``"{id}.{t}.{body}"``, HMAC-SHA256, base64; one ``v1`` per active secret so a receiver that
still has the old secret during a rotation keeps verifying.

This module imports nothing from Django or the project: a receiver may copy it as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
DEFAULT_TOLERANCE = 300  # seconds a timestamp may be off, against replays


class InvalidSignature(ValueError):
    """The request was not signed by a holder of one of the secrets, or is too old/new."""


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the base64 HMAC-SHA256 of ``"{id}.{t}.{body}"`` under ``secret``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_headers(
    secrets: Iterable[str], msg_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three headers of one request: id, timestamp, and a ``v1`` per secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={timestamp}"] + [f"v1={sign(s, msg_id, timestamp, body)}" for s in secrets]
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: ",".join(parts),
    }


MAX_TIMESTAMP_DIGITS = 12  # seconds since 1970 have 10 digits until the year 2286


def _header(headers: Mapping, name: str) -> str:
    """The header's value as text (bytes are taken as ASCII); raise :class:`InvalidSignature`
    if it is missing or not text."""
    for key, value in headers.items():
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if not isinstance(key, str) or key.lower() != name:
            continue
        if isinstance(value, bytes):
            try:
                value = value.decode("ascii")
            except UnicodeDecodeError:
                raise InvalidSignature(f"header {name} is not ASCII") from None
        if not isinstance(value, str):
            raise InvalidSignature(f"header {name} is not text")
        return value
    raise InvalidSignature(f"missing header {name}")


def _timestamp(headers: Mapping) -> int:
    value = _header(headers, TIMESTAMP_HEADER).strip()
    # only ASCII digits: int() would also take "١٢" or "1_0", and an endless one is slow
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_TIMESTAMP_DIGITS):
        raise InvalidSignature("webhook-timestamp is not a whole number")
    return int(value)


def verify_signature(
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Return quietly if ``body`` was signed with any of ``secrets``; raise otherwise.

    ``headers`` is looked up case-insensitively; ``body`` must be the raw bytes received (not
    re-serialized JSON). Raises :class:`InvalidSignature` naming what is wrong, and nothing
    else whatever the headers hold.
    """
    msg_id = _header(headers, ID_HEADER)
    if not msg_id.isascii():
        raise InvalidSignature("webhook-id is not ASCII")
    timestamp = _timestamp(headers)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("webhook-timestamp is outside the tolerance")
    fields = [part.strip().partition("=") for part in _header(headers, SIGNATURE_HEADER).split(",")]
    if f"{timestamp}" not in [value for name, _, value in fields if name == "t"]:
        raise InvalidSignature("t= of webhook-signature does not match webhook-timestamp")
    # compare_digest refuses non-ASCII text; such a value cannot be a base64 signature anyway
    received = [value for name, _, value in fields if name == "v1" and value.isascii()]
    for secret in secrets:
        expected = sign(secret, msg_id, timestamp, body)
        if any(hmac.compare_digest(expected, value) for value in received):
            return
    raise InvalidSignature("no v1 signature matches any of the secrets")
