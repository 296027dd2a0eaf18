"""HTTP to the gateway and the JSON envelope back: the only place that touches ``requests``."""

from __future__ import annotations

import logging
import re
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from ordersync.taobao.errors import Transient, error_from_response
from ordersync.taobao.types import loads, normalise

EXCERPT_CHARS = 200
# Session keys, signatures and secrets travel in URLs and forms; requests puts the URL in
# its exception messages, so everything we keep from a failure goes through redact().
SECRET_RE = re.compile(
    r"(session|sign|access_token|refresh_token|client_secret|app_secret|code)=[^&\s'\"]+"
)


def redact(text: str) -> str:
    return SECRET_RE.sub(r"\1=***", text)


POOL_SIZE = 64  # connections kept per host; not a limit on calls at once


class RedactingFilter(logging.Filter):
    """urllib3 logs every request line, query string included, at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


logging.getLogger("urllib3.connectionpool").addFilter(RedactingFilter())


def new_http_session() -> requests.Session:
    """A pooled session; ``requests`` already asks for and decodes gzip."""
    http = requests.Session()
    http.headers.update({"Accept-Encoding": "gzip", "User-Agent": "ordersync-top/1"})
    # a client is shared by a read-ahead thread and the detail calls' threads (up to
    # SYNC_FULLINFO_CONCURRENCY): urllib3's default of 10 kept connections dropped the rest
    # after each call, with a warning each time, and opened them again
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


def post(
    http: requests.Session,
    url: str,
    *,
    query: dict[str, str],
    form: dict[str, str],
    timeout: tuple[float, float],
    method: str,
) -> tuple[int, bytes]:
    """POST and return (status, body); any transport failure becomes Transient."""
    try:
        response = http.post(url, params=query, data=form, timeout=timeout)
        return response.status_code, response.content
    except requests.RequestException as exc:
        raise transport_error(exc, method) from None


def transport_error(exc: requests.RequestException, method: str) -> Transient:
    kind = "timeout" if isinstance(exc, requests.Timeout) else type(exc).__name__
    return Transient(f"{kind}: {redact(str(exc))}", method=method)


def decode_json(status: int, content: bytes, method: str) -> dict[str, Any]:
    """Parse a body as a JSON object; a non-200 status, HTML or truncation is Transient."""
    if status != 200:
        raise Transient(f"HTTP {status}", excerpt=_excerpt(content), method=method)
    try:
        payload = loads(content)
    except ValueError:
        raise Transient("malformed JSON body", excerpt=_excerpt(content), method=method) from None
    if not isinstance(payload, dict):
        raise Transient("body is not a JSON object", excerpt=_excerpt(content), method=method)
    return payload


def _excerpt(content: bytes) -> str:
    """The start of a body, secrets redacted, for an error's message."""
    return redact(content[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS])


def unwrap(payload: dict[str, Any], method: str, *, simplify: bool = False) -> dict[str, Any]:
    """Return the response fields of either envelope, or raise the mapped error.

    Default JSON: ``{"<root>_response": {...}}``; simplify: the fields at the top level.
    Errors come as ``{"error_response": {...}}`` in both. A default-JSON success without
    its root is a broken answer (Transient), never an empty one.
    """
    if "error_response" in payload:
        raise error_from_response(payload, method)
    root = response_root(method)
    if not simplify and root not in payload:
        excerpt = redact(str(payload)[:EXCERPT_CHARS])
        raise Transient(f"success body without {root}", excerpt=excerpt, method=method)
    body = payload.get(root, payload)
    if not isinstance(body, dict):
        raise Transient(
            f"{root} is not an object", excerpt=str(body)[:EXCERPT_CHARS], method=method
        )
    return {key: normalise(value, key) for key, value in body.items()}


def response_root(method: str) -> str:
    """``taobao.trades.sold.get`` -> ``trades_sold_get_response`` (other prefixes stay)."""
    name = method.removeprefix("taobao.")
    return name.replace(".", "_") + "_response"
