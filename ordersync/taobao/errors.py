"""One error base, leaves named for the caller's next move, and the ONE mapping function.

Reference: https://developer.alibaba.com/docs/doc.htm?articleId=102707&docType=1&treeId=19
"""

from __future__ import annotations

import re
from typing import Any, TypedDict, Unpack

BAN_RE = re.compile(r"(\d+)\s+more\s+seconds?")
# accesscontrol.limited-by-app-api-access-count and the older isv.access-limited-by-… names
SCOPE_RE = re.compile(r"limited-by-(app-api|app|api)-access-count")
SESSION_CODES = frozenset({26, 27, 53})
SESSION_SUB_CODES = frozenset({"invalid-sessionkey", "session-expired", "session-not-exist"})
RATE_LIMIT_CODES = frozenset({4, 5, 6, 7, 8})
PERMISSION_CODES = frozenset({11, 12, 13})
CONFIGURATION_CODES = frozenset({9, *range(21, 26), *range(28, 35)})
INVALID_REQUEST_CODES = frozenset({40, 41, 42, 43, 47})


class ErrorFields(TypedDict, total=False):
    """The keyword fields every TopError carries besides its message."""

    code: int | None
    sub_code: str | None
    sub_msg: str | None
    request_id: str | None
    method: str | None


class TopError(Exception):
    """A failed TOP call. ``code`` is the platform code, None for transport failures."""

    def __init__(
        self,
        msg: str = "",
        *,
        code: int | None = None,
        sub_code: str | None = None,
        sub_msg: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
    ) -> None:
        self.msg = msg
        self.code = code
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.request_id = request_id
        self.method = method
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [f"{self.method or '?'}:"]
        if self.code is not None:
            parts.append(f"code={self.code}")
        parts.append(self.msg)
        if self.sub_code:
            parts.append(f"sub_code={self.sub_code}")
        if self.sub_msg:
            parts.append(f"({self.sub_msg})")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(p for p in parts if p)


class RateLimited(TopError):
    """Code 7 and friends: every call in ``scope`` must wait ``ban_seconds``."""

    def __init__(
        self, msg: str = "", *, ban_seconds: int = 1, scope: str = "app", **kw: Unpack[ErrorFields]
    ) -> None:
        self.ban_seconds = ban_seconds
        self.scope = scope  # "app" | "api" | "app-api"
        super().__init__(msg, **kw)


class Transient(TopError):
    """``isp.*``, code 10, transport failures, 5xx and malformed bodies: retry with backoff."""

    def __init__(self, msg: str = "", *, excerpt: str = "", **kw: Unpack[ErrorFields]) -> None:
        self.excerpt = excerpt
        super().__init__(msg, **kw)

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} body={self.excerpt!r}" if self.excerpt else text


class SessionInvalid(TopError):
    """The seller's session is gone (26, 27, 53): the shop needs re-authorisation."""


class InvalidRequest(TopError):
    """``isv.*`` and 40–43: our request is wrong; retrying the same request cannot help."""


class TradeNotFound(InvalidRequest):
    """``isv.trade-not-exist``: no such trade, or it is outside the 3-month visibility."""


class PageTooDeep(InvalidRequest):
    """``page_no`` beyond the deepest page the platform answers: read a narrower window."""


class RefundNotFound(InvalidRequest):
    """``isv.refund-not-exist``: no such refund for this seller."""


class TradeServiceRejected(TopError):
    """``isv.trade-service-rejection``: too many slow searches; wait and shrink the window."""

    wait_seconds = 180


class PermissionDenied(TopError):
    """11–13: the app or the seller lacks the API permission package."""


class ConfigurationError(TopError):
    """9, 21–25, 28–34: bad signature, app key, method, timestamp or version."""


def error_from_response(payload: dict[str, Any], method: str) -> TopError:
    """Return the error class for a TOP ``error_response`` (wrapped or not)."""
    body = payload.get("error_response", payload)
    kw: ErrorFields = {
        "code": _int_or_none(body.get("code")),
        "sub_code": body.get("sub_code") or None,
        "sub_msg": body.get("sub_msg") or None,
        "request_id": body.get("request_id") or None,
        "method": method,
    }
    msg = str(body.get("msg") or "")
    code, sub_code = kw["code"], kw["sub_code"] or ""
    scope = SCOPE_RE.search(sub_code)
    if code in RATE_LIMIT_CODES or scope:
        ban = BAN_RE.search(kw["sub_msg"] or msg)
        return RateLimited(
            msg,
            ban_seconds=int(ban.group(1)) if ban else 1,
            scope=scope.group(1) if scope else "app",
            **kw,
        )
    if sub_code == "isv.trade-service-rejection":
        return TradeServiceRejected(msg, **kw)
    if sub_code == "isv.trade-not-exist":
        return TradeNotFound(msg, **kw)
    if sub_code == "isv.refund-not-exist":
        return RefundNotFound(msg, **kw)
    if sub_code == "isv.invalid-parameter:page_no":
        return PageTooDeep(msg, **kw)
    if code in SESSION_CODES or sub_code in SESSION_SUB_CODES:
        return SessionInvalid(msg, **kw)
    if sub_code.startswith("isp.") or code == 10:
        return Transient(msg, **kw)
    if code in PERMISSION_CODES:
        return PermissionDenied(msg, **kw)
    if code in CONFIGURATION_CODES:
        return ConfigurationError(msg, **kw)
    if sub_code.startswith("isv.") or code in INVALID_REQUEST_CODES:
        return InvalidRequest(msg, **kw)
    # Unknown codes raise at once: hammering an error we do not understand helps nobody.
    return TopError(msg, **kw)


def _int_or_none(value: str | int | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
