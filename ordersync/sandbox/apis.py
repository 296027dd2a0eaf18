"""The API handlers. Each takes a :class:`Call` and returns the response fields (lists as
plain Python lists; the envelope is added by the protocol layer).

References: docs/platform.md §4 (trades.sold.get, increment.get, incrementv.get, fullinfo.get,
trade.get, refunds.receive.get, refund.get, logistics.trace.search, time.get) and §7 (TMC:
tmc.user.permit/cancel/get, tmc.group.add, tmc.messages.consume/confirm) and §8 (JDP:
jushita.jdp.user.add, jushita.jdp.users.get, jushita.jdp.user.delete).
"""

from __future__ import annotations

from dataclasses import dataclass

from ordersync.sandbox import activity, clock, jdp, lifecycle, logistics, stock, tmc
from ordersync.sandbox.faults import LIST_METHODS
from ordersync.sandbox.fields import parse_fields, project, project_trade
from ordersync.sandbox.market import (
    DEFAULT_TYPES,
    REFUND_DEFAULT_TYPES,
    REFUND_MOVES,
    SCOPE_SECONDS,
    STATUS_GROUPS,
    TRADE_STATUSES,
    Seller,
    TradeRecord,
    stamped,
)
from ordersync.sandbox.protocol import fragment, invalid_arg, isv, missing_arg
from ordersync.sandbox.world import World

DAY = 86400


@dataclass
class Call:
    world: World
    method: str
    params: dict
    now: float
    seller: Seller | None = None
    json: bool = True  # answering JSON (list items are cached as encoded fragments)
    wrap: bool = True  # default JSON: nested lists wrapped as {"order": [...]}


# --- parameter helpers --------------------------------------------------------------------
def required(call: Call, name: str) -> str:
    value = call.params.get(name, "")
    if value == "":
        raise missing_arg(name)
    return value


def int_param(call: Call, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = call.params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_arg(name, "not a number") from None
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise invalid_arg(name, f"must be {bounds}")
    return value


def date_param(call: Call, name: str, required_: bool = False) -> int | None:
    raw = call.params.get(name, "")
    if raw == "":
        if required_:
            raise missing_arg(name)
        return None
    try:
        return clock.parse(raw)
    except ValueError:
        raise invalid_arg(name, "expected yyyy-MM-dd HH:mm:ss") from None


def bool_param(call: Call, name: str) -> bool:
    return call.params.get(name, "").lower() == "true"


def trade_types(call: Call, default: frozenset = DEFAULT_TYPES) -> frozenset:
    """The trade types the ``type`` parameter names (``default`` without it)."""
    raw = call.params.get("type", "")
    if not raw:
        return default
    types = set()
    for name in raw.split(","):
        name = name.strip()
        if name == "guarantee_trade":
            types |= {"fixed", "auction"}
        elif name:
            types.add(name)
    return frozenset(types)


def trade_statuses(call: Call) -> frozenset | None:
    raw = call.params.get("status", "")
    if not raw:
        return None
    if raw in STATUS_GROUPS:
        return STATUS_GROUPS[raw]
    if raw not in TRADE_STATUSES:
        raise invalid_arg("status", f"unknown or several statuses: {raw}")
    return frozenset({raw})


def window(call: Call, start_name: str, end_name: str) -> tuple[int, int]:
    """The required [start, end] of an incremental API: start < end, at most one day."""
    start = date_param(call, start_name, True)
    end = date_param(call, end_name, True)
    if start >= end:
        raise isv("isv.invalid-parameter", f"{end_name} must be later than {start_name}")
    if end - start > DAY:
        raise isv(
            "isv.invalid-parameter",
            f"{start_name} and {end_name} must be within one day of each other",
        )
    return start, end


# Lists sorted by ``modified`` (descending), where rows of one second may come in any order.
MODIFIED_SORTED = frozenset({"taobao.trades.sold.increment.get", "taobao.refunds.receive.get"})


def paged(call: Call, items: list, render, max_size: int = 100) -> tuple[dict, list]:
    """Slice one page of ``items`` and add total_results or has_next."""
    faults = call.world.faults
    page_no = int_param(call, "page_no", 1, 1)
    page_size = int_param(call, "page_size", 40, 1, max_size)
    if faults.max_page_no and page_no > faults.max_page_no and faults.applies_to(call.method):
        # The platform's deepest page is not documented (docs/platform.md §11): the sandbox answers
        # as for any page_no out of bounds.
        raise invalid_arg("page_no", f"must be 1..{faults.max_page_no}")
    sorted_by_modified = call.method in MODIFIED_SORTED or call.params.get(
        "order_by", ""
    ).startswith("modified")
    if faults.tie_shuffle and sorted_by_modified and faults.applies_to(call.method):
        items = shuffle_ties(items, call.world.fault_rng)
    chunk = items[(page_no - 1) * page_size : page_no * page_size]
    result: dict = {}
    if bool_param(call, "use_has_next"):
        result["has_next"] = page_no * page_size < len(items)
    else:
        result["total_results"] = len(items)
    return result, [render(x) for x in chunk]


def shuffle_ties(items: list, rng) -> list:
    """``items`` (sorted by ``modified``) with the rows of each second in a random order."""
    out: list = []
    start = 0
    for at in range(1, len(items) + 1):
        if at == len(items) or items[at].modified != items[start].modified:
            group = items[start:at]
            if len(group) > 1:
                rng.shuffle(group)
            out += group
            start = at
    return out


def list_trades(call: Call, versions: list, extra=None) -> dict:
    text = required(call, "fields")
    spec = parse_fields(text)
    peak = call.world.faults.peak_mode and call.world.faults.applies_to(call.method)
    key = (text, call.wrap, peak, extra is not None)

    broken = call.world.faults.malformed_tids

    def render(version):
        if broken and str(version.data.get("tid")) in broken:
            out = project_trade(version.data, spec, peak, call.wrap)
            out.pop("modified", None)  # a record the client cannot write
            return out
        if call.json:
            cached = version.fragments().get(key)
            if cached is not None:
                return cached
        out = project_trade(version.data, spec, peak, call.wrap)
        if extra:
            extra(version, out)
        if not call.json:
            return out
        fragments = version.fragments()
        if len(fragments) > 8:
            fragments.clear()
        encoded = fragments[key] = fragment(out)
        return encoded

    result, trades = paged(call, versions, render)
    if trades:
        result["trades"] = trades
    return result


# --- handlers -----------------------------------------------------------------------------
def time_get(call: Call) -> dict:
    return {"time": clock.fmt(call.now)}


def trades_sold_get(call: Call) -> dict:
    required(call, "fields")
    start = date_param(call, "start_created") or 0
    end = date_param(call, "end_created") or int(call.now)
    if end < start:  # both bounds are inclusive: equal is one second (the harsher guess)
        raise isv("isv.invalid-parameter", "end_created must not be earlier than start_created")
    versions = call.seller.list_by_created(
        call.now, start, end, trade_types(call), trade_statuses(call), _buyer(call)
    )
    return list_trades(call, versions)


def trades_sold_increment_get(call: Call) -> dict:
    required(call, "fields")
    start, end = window(call, "start_modified", "end_modified")
    versions = call.seller.list_by_modified(
        call.now, start, end, trade_types(call), trade_statuses(call), _buyer(call)
    )
    result = list_trades(call, versions)
    _drift(call, versions)
    return result


def trades_sold_incrementv_get(call: Call) -> dict:
    required(call, "fields")
    start, end = window(call, "start_create", "end_create")
    versions = call.seller.list_by_visible(
        call.now, start, end, trade_types(call), trade_statuses(call)
    )

    def async_modified(version, out):
        out["async_modified"] = clock.fmt(stamped(version))

    result = list_trades(call, versions, async_modified)
    _drift(call, versions)
    return result


def trade_fullinfo_get(call: Call) -> dict:
    spec = parse_fields(required(call, "fields"))
    trade = _own_trade(call)
    return {"trade": project_trade(trade.current.data, spec, wrap=call.wrap)}


trade_get = trade_fullinfo_get


def refunds_receive_get(call: Call) -> dict:
    spec = parse_fields(required(call, "fields"))
    if call.params.get("start_modified") and call.params.get("end_modified"):
        start, end = window(call, "start_modified", "end_modified")
    else:
        start = date_param(call, "start_modified") or int(call.now) - SCOPE_SECONDS
        end = date_param(call, "end_modified") or int(call.now)
    status = call.params.get("status") or None
    if status is not None and status not in REFUND_MOVES:
        raise invalid_arg("status", f"unknown refund status {status}")
    faults = call.world.faults
    types = trade_types(call, REFUND_DEFAULT_TYPES)
    versions = call.seller.refunds_by_modified(
        call.now, start, end, status, types, faults.refund_order
    )
    broken = faults.malformed_tids

    def render(version) -> dict:
        out = project(version.data, spec)
        if broken and str(version.refund.refund_id) in broken:
            out.pop("modified", None)  # a record the client cannot write
        return out

    result, items = paged(call, versions, render)
    if items:
        result["refunds"] = items
    _drift_refunds(call, versions)
    return result


def refund_get(call: Call) -> dict:
    spec = parse_fields(required(call, "fields"))
    refund = call.seller.refunds.get(required(call, "refund_id"))
    if refund is None or refund.created < call.now - SCOPE_SECONDS:
        raise isv("isv.refund-not-exist", "退款单不存在")
    return {"refund": project(refund.data, spec)}


def logistics_trace_search(call: Call) -> dict:
    """The trace of a trade's waybill; a split shipment's per sub-order (``is_split=1``,
    ``sub_tid``). A trade with several waybills read whole shows its first one only."""
    trade = _own_trade(call)
    bills = logistics.waybills(trade.current.data)
    if not bills:
        return {"tid": trade.tid, "status": "等待发货", "trace_list": []}
    out_sid = next(iter(bills))
    if call.params.get("is_split", "0") == "1":
        out_sid = _split_waybill(call, bills)
    found = logistics.parcel(call.seller.logistics, trade.tid, out_sid, bills[out_sid])
    return logistics.trace(found, call.now)


def _split_waybill(call: Call, bills: dict[str, list[dict]]) -> str:
    """The one waybill the ``sub_tid`` sub-orders went out on (an isv error otherwise)."""
    raw = required(call, "sub_tid")
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    if not wanted or len(wanted) > 50:
        raise invalid_arg("sub_tid", "1 to 50 sub-order ids")
    found = {sid for sid, orders in bills.items() for o in orders if str(o["oid"]) in wanted}
    if len(found) != 1:
        raise isv("isv.logistics-trace-not-exist", "子订单没有同一个运单")
    return found.pop()


def tmc_user_permit(call: Call) -> dict:
    """Subscribe the session's seller; ``topics`` overwrites (omitted: every topic)."""
    raw = call.params.get("topics", "")
    topics = None
    if raw:
        topics = frozenset(t.strip() for t in raw.split(",") if t.strip())
        unknown = topics - tmc.ALL_TOPICS
        if unknown:
            raise isv("isv.topic-not-exist", f"topic not found: {sorted(unknown)[0]}")
    # The platform's permit takes no group: taobao.tmc.group.add assigns one.
    call.world.tmc.permit(call.params["app_key"], call.seller.nick, topics)
    return {"is_success": True}


def tmc_group_add(call: Call) -> dict:
    """Put permitted sellers (``nicks``, at most 200) in the app's group ``group_name``.

    Rules of the platform's doc (tmc/taobao_tmc_group_add.json): a name of at most 32
    characters that does not start with ``default``; only sellers already permitted; messages
    queued before stay in the old group."""
    group = required(call, "group_name")
    if len(group) > 32:
        raise invalid_arg("group_name", "at most 32 characters")
    if group.startswith(tmc.DEFAULT_GROUP):
        raise invalid_arg("group_name", "must not start with default")
    nicks = [n.strip() for n in required(call, "nicks").split(",") if n.strip()]
    if not nicks or len(nicks) > 200:
        raise invalid_arg("nicks", "1..200 nicks")
    missing = call.world.tmc.add_to_group(call.params["app_key"], group, nicks)
    if missing:
        # The platform's sub_code for this is not documented; this one says what happened.
        raise isv("isv.user-not-permit", f"user not permitted: {missing[0]}")
    return {"group_name": group, "created": clock.fmt(call.now)}


def tmc_user_cancel(call: Call) -> dict:
    nick = required(call, "nick")
    call.world.tmc.cancel(call.params["app_key"], nick)
    return {"is_success": True}


def tmc_user_get(call: Call) -> dict:
    nick = required(call, "nick")
    permit = call.world.tmc.permits.get((call.params["app_key"], nick))
    seller = call.world.sellers.get(nick)
    if permit is None or seller is None:
        return {}
    topics = sorted(permit.topics if permit.topics is not None else tmc.ALL_TOPICS)
    return {
        "tmc_user": {
            "user_nick": nick,
            "user_id": seller.user_id,
            "topics": topics,
            "group_name": permit.group,
            "is_valid": True,
        }
    }


def tmc_messages_consume(call: Call) -> dict:
    quantity = int_param(call, "quantity", 100, 10, 200)
    group = call.params.get("group_name") or tmc.DEFAULT_GROUP
    world = call.world
    messages = world.tmc.consume(world.faults, call.now, call.params["app_key"], group, quantity)
    return {"messages": messages} if messages else {}


def tmc_messages_confirm(call: Call) -> dict:
    raw = required(call, "s_message_ids")
    try:
        ids = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise invalid_arg("s_message_ids", "not a list of numbers") from None
    if len(ids) > 200:
        raise invalid_arg("s_message_ids", "at most 200 ids")
    group = call.params.get("group_name") or tmc.DEFAULT_GROUP
    call.world.tmc.confirm(call.params["app_key"], group, ids)
    return {"is_success": True}


# --- items (docs/platform.md §12) ---------------------------------------------------------
# What the item lists may return (the rest needs item.seller.get), per their documentation.
ITEM_LIST_FIELDS = frozenset(
    {
        "approve_status", "num_iid", "title", "nick", "type", "cid", "pic_url", "num", "props",
        "valid_thru", "list_time", "price", "has_discount", "has_invoice", "has_warranty",
        "has_showcase", "modified", "delist_time", "postage_id", "seller_cids", "outer_id",
        "sold_quantity",
    }
)  # fmt: skip
ITEM_ORDER_COLUMNS = frozenset({"list_time", "delist_time", "num", "modified", "sold_quantity"})
# items.inventory.get ``banner``: for_shelved is the default and the first three together
BANNERS = {
    "for_shelved": frozenset({"regular_shelved", "never_on_shelf", "off_shelf"}),
    "regular_shelved": frozenset({"regular_shelved"}),
    "never_on_shelf": frozenset({"never_on_shelf"}),
    "off_shelf": frozenset({"off_shelf"}),
    "sold_out": frozenset({"sold_out"}),
    "violation_off_shelf": frozenset({"violation_off_shelf"}),
}
ONSALE_MAX_ROWS = 20_000  # page_no × page_size beyond this is refused (items.onsale.get)
INVENTORY_MAX_PAGE = 101


def items_onsale_get(call: Call) -> dict:
    page_no, page_size = int_param(call, "page_no", 1, 1), int_param(call, "page_size", 40, 1, 200)
    if page_no * page_size > ONSALE_MAX_ROWS:
        raise invalid_arg("page_no", "page_no*page_size must not pass 20000")
    return _item_list(call, stock.ONSALE, None)


def items_inventory_get(call: Call) -> dict:
    int_param(call, "page_no", 1, 1, INVENTORY_MAX_PAGE)
    banner = call.params.get("banner") or "for_shelved"
    if banner not in BANNERS:
        raise invalid_arg("banner", f"unknown banner {banner}")
    return _item_list(call, stock.INSTOCK, BANNERS[banner])


def _item_list(call: Call, status: str, banners: frozenset | None) -> dict:
    spec = parse_fields(required(call, "fields"))
    names = tuple(n for n in spec.names if n in ITEM_LIST_FIELDS)
    start = date_param(call, "start_modified") or 0
    end = date_param(call, "end_modified") or int(call.now)
    versions = [
        v
        for v in stock.listed(_stock(call), call.now, frozenset({status}), banners)
        if start <= v.modified <= end
    ]
    versions = _item_order(call, versions)
    result, items = paged(
        call, versions, lambda v: {k: v.data[k] for k in names if k in v.data}, 200
    )
    if items:
        result["items"] = items
    for version in _drifting(call, versions):  # pagination drift: a sale before the next page
        sku = call.seller.rng.choice(version.item.state["skus"])
        stock.sell(
            _stock(call), [{"sku_id": sku["sku_id"], "num": 1}], call.now, call.world.draw_lag()
        )
    return result


def _item_order(call: Call, versions: list) -> list:
    column, _, direction = (call.params.get("order_by") or "list_time:desc").partition(":")
    if column not in ITEM_ORDER_COLUMNS or direction not in ("asc", "desc"):
        raise invalid_arg("order_by", "column:asc or column:desc")
    if column == "modified":
        key = lambda v: (v.modified, v.item.num_iid)  # noqa: E731
    else:
        key = lambda v: (str(v.data.get(column, "")), v.item.num_iid)  # noqa: E731
    return sorted(versions, key=key, reverse=direction == "desc")


def item_seller_get(call: Call) -> dict:
    """One item, always current, with its SKUs (``sku`` or ``skus`` in ``fields``)."""
    spec = parse_fields(required(call, "fields"))
    raw = required(call, "num_iid")
    if not raw.isdigit():
        raise invalid_arg("num_iid", "not a number")
    item = _stock(call).items.get(int(raw))
    if item is None:
        raise isv("isv.item-not-exist", f"item {raw} not found")
    data = item.current.data
    out = {k: data[k] for k in spec.names if k in data and k not in ("sku", "skus")}
    if {"sku", "skus"} & set(spec.names):
        skus = [dict(s) for s in data["skus"]]
        out["skus"] = {"sku": skus} if call.wrap else skus
    return {"item": out}


def _stock(call: Call) -> stock.Stock:
    if call.seller.stock is None:  # a seller from a snapshot made before items
        raise isv("isv.item-not-exist", "the seller has no items")
    return call.seller.stock


# --- Jushita data push (docs/platform.md §8) ------------------------------------------------
def jdp_user_add(call: Call) -> dict:
    """Enrol the session's seller into the app's RDS ``rds_name``; ``history_days`` (≤ 90)
    of history are pushed too."""
    rds_name = required(call, "rds_name")
    if rds_name not in call.world.jdp.rds:
        raise isv("isv.rds-not-exist", f"rds {rds_name} not found")
    days = int_param(call, "history_days", 0, 0, jdp.MAX_HISTORY_DAYS)
    call.world.jdp.add_user(call.world, call.params["app_key"], call.seller, rds_name, days)
    return {"is_success": True}


def jdp_users_get(call: Call) -> dict:
    """The app's enrolled users (``user_id`` narrows to one), paged."""
    world = call.world
    world.jdp.refresh_status(world)
    app_key = call.params["app_key"]
    users = [u for (app, _), u in sorted(world.jdp.users.items()) if app == app_key]
    raw_id = call.params.get("user_id", "")
    if raw_id:
        if not raw_id.isdigit():
            raise invalid_arg("user_id", "not a number")
        users = [u for u in users if u.user_id == int(raw_id)]
    page_no = int_param(call, "page_no", 1, 1)
    page_size = int_param(call, "page_size", 100, 1, 200)
    page = users[(page_no - 1) * page_size : page_no * page_size]
    return {"users": [u.render() for u in page], "total_results": len(users)}


def jdp_user_delete(call: Call) -> dict:
    """End the push for seller ``nick`` (status 3)."""
    nick = required(call, "nick")
    call.world.jdp.delete_user(call.params["app_key"], nick, call.now)
    return {"is_success": True}


def _buyer(call: Call) -> str | None:
    return call.params.get("buyer_nick") or None


def _own_trade(call: Call) -> TradeRecord:
    raw = required(call, "tid")
    try:
        tid = int(raw)
    except ValueError:
        raise invalid_arg("tid", "not a number") from None
    trade = call.seller.trades.get(tid)
    if str(tid) in call.world.faults.hidden_tids:
        trade = None
    if trade is None or trade.created < call.now - SCOPE_SECONDS:
        raise isv("isv.trade-not-exist", "交易订单不存在")
    return trade


def _drifting(call: Call, versions: list) -> list:
    """The listed versions whose records change before the next page call (pagination
    drift), drawn from the fault RNG; none when no drift is drawn for this call."""
    world = call.world
    faults = world.faults
    if not faults.drift_rate or not versions or not faults.applies_to(call.method):
        return []
    if world.fault_rng.random() >= faults.drift_rate:
        return []
    count = min(faults.drift_trades, len(versions))
    world.injected["drift"] += count
    return world.fault_rng.sample(versions, count)


def _drift(call: Call, versions: list) -> None:
    """Pagination drift: change trades of the queried window before the next page call."""
    for version in _drifting(call, versions):
        activity.change_trade(call.world, call.seller, version.trade, call.now)


def _drift_refunds(call: Call, versions: list) -> None:
    """Pagination drift of the refund list: refunds of the queried window change before the
    next page call (an open one moves a step, a closed one gets a note; each may get a
    same-second version too)."""
    for version in _drifting(call, versions):
        refund, lag = version.refund, call.world.draw_lag()
        if not lifecycle.advance_refund(call.seller, refund, call.now, lag):
            lifecycle.touch_refund(call.seller, refund, call.now, lag)
        activity.refund_same_second(call.world, call.seller, refund, lag)


HANDLERS = {
    "taobao.time.get": (time_get, False),
    "taobao.trades.sold.get": (trades_sold_get, True),
    "taobao.trades.sold.increment.get": (trades_sold_increment_get, True),
    "taobao.trades.sold.incrementv.get": (trades_sold_incrementv_get, True),
    "taobao.trade.fullinfo.get": (trade_fullinfo_get, True),
    "taobao.trade.get": (trade_get, True),
    "taobao.refunds.receive.get": (refunds_receive_get, True),
    "taobao.refund.get": (refund_get, True),
    "taobao.logistics.trace.search": (logistics_trace_search, True),
    "taobao.tmc.user.permit": (tmc_user_permit, True),
    "taobao.tmc.user.cancel": (tmc_user_cancel, False),
    "taobao.tmc.user.get": (tmc_user_get, False),
    "taobao.tmc.group.add": (tmc_group_add, False),
    "taobao.tmc.messages.consume": (tmc_messages_consume, False),
    "taobao.tmc.messages.confirm": (tmc_messages_confirm, False),
    "taobao.jushita.jdp.user.add": (jdp_user_add, True),
    "taobao.jushita.jdp.users.get": (jdp_users_get, False),
    "taobao.jushita.jdp.user.delete": (jdp_user_delete, False),
    "taobao.items.onsale.get": (items_onsale_get, True),
    "taobao.items.inventory.get": (items_inventory_get, True),
    "taobao.item.seller.get": (item_seller_get, True),
}
assert set(HANDLERS) >= LIST_METHODS
