"""One function per TOP API the sync engine needs; each returns plain, typed results.

Datetimes in and out are aware; items are JSON-safe dicts as on the wire (strings for times
and money) except ``tid``/``oid``/``refund_id``/``num_iid``, which are exact ints.

Calls made for a shop go through a client bound to it (``TopClient.for_shop``, or
``shops.top.client_for_shop``), so the shared limiter shares the app's budget fairly
between shops; app-level calls (time, TMC consume/confirm) use an unbound client.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from ordersync.taobao.errors import Transient
from ordersync.taobao.types import normalise, parse_time

if TYPE_CHECKING:
    from ordersync.taobao.client import TopClient

Fields = str | Iterable[str]
T = TypeVar("T")


@dataclass
class Page:
    items: list[dict[str, Any]]
    total_results: int | None  # absent when use_has_next=true
    has_next: bool | None


def time_get(client: TopClient) -> datetime:
    """Platform time, aware Asia/Shanghai (second resolution)."""
    # Reference: taobao.time.get, docs/platform.md §4.7 (metadata: util/taobao_time_get.json)
    body = client.call("taobao.time.get", {})
    return _required(parse_time(body.get("time")), "time", "taobao.time.get")


def trades_sold_get(
    client: TopClient,
    session: str,
    *,
    start_created: datetime,
    end_created: datetime,
    fields: Fields,
    page_no: int = 1,
    page_size: int = 100,
    use_has_next: bool = True,
    status: str | None = None,
    type: str | None = None,
) -> Page:
    """Sold trades by creation time, ``created`` descending; only the last 3 months."""
    # Reference: taobao.trades.sold.get, docs/platform.md §4.1 (tbtrade/taobao_trades_sold_get.json)
    params = {
        "fields": fields,
        "start_created": start_created,
        "end_created": end_created,
        "page_no": page_no,
        "page_size": page_size,
        "use_has_next": use_has_next,
        "status": status,
        "type": type,
    }
    return _list(client, "taobao.trades.sold.get", params, session, "trades")


def trades_sold_increment_get(
    client: TopClient,
    session: str,
    *,
    start_modified: datetime,
    end_modified: datetime,
    fields: Fields,
    page_no: int = 1,
    page_size: int = 100,
    use_has_next: bool = False,
    status: str | None = None,
    type: str | None = None,
) -> Page:
    """Trades by modification time (window ≤ 1 day), ``modified`` descending.

    ``use_has_next`` defaults to False because reading from the last page back needs
    ``total_results``.
    """
    # Reference: http://developer.alibaba.com/docs/api.htm?apiId=128, docs/platform.md §4.2
    params = {
        "fields": fields,
        "start_modified": start_modified,
        "end_modified": end_modified,
        "page_no": page_no,
        "page_size": page_size,
        "use_has_next": use_has_next,
        "status": status,
        "type": type,
    }
    return _list(client, "taobao.trades.sold.increment.get", params, session, "trades")


def trades_sold_incrementv_get(
    client: TopClient,
    session: str,
    *,
    start_create: datetime,
    end_create: datetime,
    fields: Fields,
    page_no: int = 1,
    page_size: int = 100,
    use_has_next: bool = False,
    status: str | None = None,
    type: str | None = None,
) -> Page:
    """Trades by the time a change became visible in the seller's store (``async_modified``,
    window ≤ 1 day), newest first. Unlike ``modified``, that time has no visibility gap.

    Apps without the API's permission package get code 11 (PermissionDenied)."""
    # Reference: https://developer.alibaba.com/docs/api.htm?apiId=21470, docs/platform.md §4.3
    params = {
        "fields": fields,
        "start_create": start_create,
        "end_create": end_create,
        "page_no": page_no,
        "page_size": page_size,
        "use_has_next": use_has_next,
        "status": status,
        "type": type,
    }
    return _list(client, "taobao.trades.sold.incrementv.get", params, session, "trades")


def trade_fullinfo_get(client: TopClient, session: str, tid: int, fields: Fields) -> dict[str, Any]:
    """One trade in full: the final word on a trade's state."""
    # Reference: taobao.trade.fullinfo.get, docs/platform.md §4.5
    # (metadata: tbtrade/taobao_trade_fullinfo_get.json)
    params = {"tid": tid, "fields": fields}
    return _item(client, "taobao.trade.fullinfo.get", params, session, "trade")


def refunds_receive_get(
    client: TopClient,
    session: str,
    *,
    start_modified: datetime,
    end_modified: datetime,
    fields: Fields,
    page_no: int = 1,
    page_size: int = 100,
    use_has_next: bool = False,
    type: str | None = None,
) -> Page:
    """Refunds received by the seller, by modification time.

    Without ``type`` the platform lists only refunds of guarantee_trade and auto_delivery
    trades; pass every type wanted. The list's sort order is not documented."""
    # Reference: taobao.refunds.receive.get, docs/platform.md §4.8 (refund/…receive_get.json)
    params = {
        "fields": fields,
        "start_modified": start_modified,
        "end_modified": end_modified,
        "page_no": page_no,
        "page_size": page_size,
        "use_has_next": use_has_next,
        "type": type,
    }
    return _list(client, "taobao.refunds.receive.get", params, session, "refunds")


def refund_get(client: TopClient, session: str, refund_id: int, fields: Fields) -> dict[str, Any]:
    """One refund."""
    # Reference: taobao.refund.get, docs/platform.md §4.9 (tbrefund/taobao_refund_get.json)
    params = {"refund_id": refund_id, "fields": fields}
    return _item(client, "taobao.refund.get", params, session, "refund")


def logistics_trace_search(
    client: TopClient, session: str, tid: int, sub_tids: Sequence[int] = ()
) -> dict[str, Any]:
    """The logistics trace of a trade, or of the waybill its sub-orders ``sub_tids`` went out
    on (a split shipment): out_sid, company_name, status, trace_list[].

    A success carries ``status``, and a shipped waybill (``out_sid``) at least its consignment
    step: an answer without them is broken, not "no news", and is retried like one."""
    # Reference: taobao.logistics.trace.search, docs/platform.md §4.10
    method = "taobao.logistics.trace.search"
    params: dict[str, Any] = {"tid": tid}
    if sub_tids:
        params.update(is_split=1, sub_tid=",".join(str(oid) for oid in sub_tids))

    def check(body: dict[str, Any]) -> None:
        _required(body.get("status"), "status", method)
        if body.get("out_sid"):
            _required(body.get("trace_list") or None, "trace_list", method)

    body = client.call(method, params, session=session, check=check)
    body.pop("request_id", None)
    body.setdefault("trace_list", [])
    return body


@dataclass
class TmcMessage:
    """One TMC message: a notification to act on, never the state itself."""

    id: int
    topic: str
    content: dict[str, Any]
    user_id: int | None
    user_nick: str
    pub_time: datetime | None
    retried: int


def tmc_user_permit(
    client: TopClient, session: str, *, topics: Iterable[str] | None = None
) -> bool:
    """Subscribe the session's seller to the app's TMC topics (``topics`` overwrites). The
    seller's messages go to the group ``default`` until :func:`tmc_group_add` moves it."""
    # Reference: taobao.tmc.user.permit, docs/platform.md §7.1 (tmc/taobao_tmc_user_permit.json)
    params = {"topics": ",".join(topics) if topics else None}
    body = client.call("taobao.tmc.user.permit", params, session=session)
    return _bool(body.get("is_success"))


def tmc_group_add(client: TopClient, group: str, nicks: Iterable[str]) -> str:
    """Put permitted sellers (at most 200 ``nicks``) in the app's TMC ``group``: their new
    messages are consumed from that group; messages queued before stay where they were."""
    # Reference: taobao.tmc.group.add, docs/platform.md §7.1 (tmc/taobao_tmc_group_add.json)
    params = {"group_name": group, "nicks": ",".join(nicks)}
    body = client.call("taobao.tmc.group.add", params)
    return str(body.get("group_name") or group)


def tmc_messages_consume(
    client: TopClient, *, group: str = "default", quantity: int = 100
) -> list[TmcMessage]:
    """Pull up to ``quantity`` (10..200) messages of the app's ``group``; each must be
    confirmed, or it comes back after the server's visibility timeout."""
    # Reference: taobao.tmc.messages.consume, docs/platform.md §7.8
    # (metadata: tmc/taobao_tmc_messages_consume.json)
    params = {"group_name": group, "quantity": quantity}
    body = client.call("taobao.tmc.messages.consume", params)
    return [_tmc_message(m) for m in body.get("messages") or []]


def tmc_messages_confirm(client: TopClient, ids: Iterable[int], *, group: str = "default") -> bool:
    """Confirm consumed messages (at most 200 ids per call)."""
    # Reference: taobao.tmc.messages.confirm, docs/platform.md §7.8
    # (metadata: tmc/taobao_tmc_messages_confirm.json)
    params = {"group_name": group, "s_message_ids": ",".join(str(i) for i in ids)}
    body = client.call("taobao.tmc.messages.confirm", params)
    return _bool(body.get("is_success"))


def _tmc_message(raw: dict[str, Any]) -> TmcMessage:
    content = raw.get("content") or {}
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            content = {"raw": content}
    user_id = raw.get("user_id")
    return TmcMessage(
        id=int(raw["id"]),
        topic=str(raw.get("topic") or ""),
        content=normalise(content) if isinstance(content, dict) else {},
        user_id=int(user_id) if user_id is not None and user_id != "" else None,
        user_nick=str(raw.get("user_nick") or ""),
        pub_time=parse_time(raw.get("pub_time")),
        retried=int(raw.get("retried") or 0),
    )


def _list(
    client: TopClient, method: str, params: dict[str, Any], session: str, list_key: str
) -> Page:
    check = partial(_check_page, list_key=list_key, params=params, method=method)
    body = client.call(method, params, session=session, check=check)
    total = body.get("total_results")
    has_next = body.get("has_next")
    return Page(
        items=body.get(list_key) or [],
        total_results=int(total) if total is not None else None,
        has_next=_bool(has_next) if has_next is not None else None,
    )


def _item(
    client: TopClient, method: str, params: dict[str, Any], session: str, key: str
) -> dict[str, Any]:
    """The ``key`` object of a detail API's answer; an answer without it is retried like any
    broken answer (inside the client's retry loop), then raised as Transient."""

    def check(body: dict[str, Any]) -> None:
        _required(body.get(key), key, method)

    item: dict[str, Any] = client.call(method, params, session=session, check=check)[key]
    return item


def _check_page(
    body: dict[str, Any], *, list_key: str, params: dict[str, Any], method: str
) -> None:
    """Raise Transient when a list body lacks what a success must carry.

    A success carries ``total_results`` (``has_next`` with ``use_has_next``) and the list
    key whenever the page holds rows: without them the answer would read as an empty page,
    and an empty page lets the cursor pass rows nobody saw.
    """
    total = body.get("total_results")
    if params["use_has_next"] and total is None:
        rows = _bool(_required(body.get("has_next"), "has_next", method))  # not the last page
    else:
        total = _required(total, "total_results", method)
        rows = int(total) > (params["page_no"] - 1) * params["page_size"]
    if rows:
        _required(body.get(list_key), list_key, method)


def _bool(value: object) -> bool:
    return value.lower() == "true" if isinstance(value, str) else bool(value)


def _required(value: T | None, name: str, method: str) -> T:
    if value is None:
        # A success envelope without its payload is a broken gateway answer, not an answer.
        raise Transient(f"response has no {name!r}", method=method)
    return value
