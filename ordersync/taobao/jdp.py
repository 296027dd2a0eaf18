"""Jushita data push (聚石塔 JDP): the management APIs, and reading a pushed row's record.

The platform writes an enrolled seller's trades and refunds into the ISV's RDS; each row's
``jdp_response`` holds the record as the detail API answers it in default JSON
(``{"trade_fullinfo_get_response": {"trade": {…}}}``, ``{"refund_get_response": …}``).
Reference: docs/platform.md §8.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ordersync.taobao.types import normalise

if TYPE_CHECKING:
    from ordersync.taobao.client import TopClient

# users.get status values
PAUSED, NORMAL, SESSION_INVALID, DELETED = 0, 1, 2, 3
MAX_HISTORY_DAYS = 90
RESPONSE_ROOTS = {
    "trade": ("trade_fullinfo_get_response", "trade"),
    "refund": ("refund_get_response", "refund"),
}


@dataclass(frozen=True)
class JdpUser:
    user_id: int
    nick: str
    rds_name: str
    status: int


def user_add(client: TopClient, session: str, rds_name: str, history_days: int = 0) -> bool:
    """Enrol the session's seller: its changes are pushed into ``rds_name`` from now on, and
    its last ``history_days`` (0..90) of records too."""
    # Reference: taobao.jushita.jdp.user.add, docs/platform.md §8
    if not 0 <= history_days <= MAX_HISTORY_DAYS:
        raise ValueError(f"history_days={history_days}: must be 0..{MAX_HISTORY_DAYS}")
    params = {"rds_name": rds_name, "history_days": history_days}
    body = client.call("taobao.jushita.jdp.user.add", params, session=session)
    return _bool(body.get("is_success"))


def users_get(client: TopClient, *, user_id: int | None = None, page_no: int = 1) -> list[JdpUser]:
    """The app's enrolled sellers (one with ``user_id``), a page of up to 200."""
    # Reference: taobao.jushita.jdp.users.get, docs/platform.md §8
    params = {"user_id": user_id, "page_no": page_no, "page_size": 200}
    body = client.call("taobao.jushita.jdp.users.get", params)
    return [_user(raw) for raw in normalise(body.get("users") or [], "users")]


def user_delete(client: TopClient, nick: str) -> bool:
    """End the push for ``nick`` (enrolling again pushes the history again)."""
    # Reference: taobao.jushita.jdp.user.delete, docs/platform.md §8
    body = client.call("taobao.jushita.jdp.user.delete", {"nick": nick})
    return _bool(body.get("is_success"))


def _user(raw: dict[str, Any]) -> JdpUser:
    return JdpUser(
        int(raw["user_id"]),
        str(raw.get("user_nick") or ""),
        str(raw.get("rds_name") or ""),
        int(raw["status"]),
    )


class MalformedResponse(ValueError):
    """A ``jdp_response`` that does not hold one record of its kind."""


def parse_response(kind: str, text: str | bytes | None) -> dict[str, Any]:
    """The record (``"trade"`` or ``"refund"``) a row's ``jdp_response`` holds, normalised as
    the client normalises answers (lists unwrapped, ids exact ints)."""
    root, key = RESPONSE_ROOTS[kind]
    try:
        body = json.loads(text or "")
    except (ValueError, TypeError) as error:
        raise MalformedResponse(f"not JSON: {error}") from None
    inner = body.get(root) if isinstance(body, dict) else None
    record = inner.get(key) if isinstance(inner, dict) else None
    if not isinstance(record, dict):
        raise MalformedResponse(f"no {root}.{key} object")
    normalised: dict[str, Any] = normalise(record)
    return normalised


def _bool(value: object) -> bool:
    return value.lower() == "true" if isinstance(value, str) else bool(value)
