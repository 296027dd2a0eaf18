"""Items, SKU stock and demand: what a shop sells, how much it has, and when buyers come.

Every seller's catalog (``lifecycle.setup_seller``) becomes items with SKUs and a quantity
per SKU. A paid sub-order takes its units off its SKU (a cash-on-delivery trade when it is
created, a presale when its final payment is made); a SKU that falls under its reorder
point is restocked (``restock_rate`` of the times) with a batch. An item whose SKUs are all
sold out leaves the shelf for the warehouse (``instock``, banner ``sold_out``); a restock
puts it back on sale. Each change publishes an :class:`ItemVersion`, visible to the item
lists after the lag in force (like trades); ``item.seller.get`` always shows the newest.

Demand (:class:`Demand`) shapes when trades come: a weekday profile, a trend and promotion
days, and a popularity per SKU. The history of a new seller is drawn with it, so the
forecast has something to learn and the backtest something to measure. The live market's
rates stay as set (tests count on them); new trades draw their SKUs by popularity.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ordersync.sandbox.clock import fmt
from ordersync.sandbox.records import freeze, thaw

DAY = 86400
GMT8 = timezone(timedelta(hours=8))
GMT8_SHIFT = 8 * 3600
INFINITY = float("inf")
ONSALE, INSTOCK = "onsale", "instock"


@dataclass
class Demand:
    """The shape of a seller's demand over time (the history is drawn with it)."""

    # Monday first: shoppers buy more at the weekend
    weekday: tuple[float, ...] = (0.85, 0.8, 0.85, 0.9, 1.05, 1.3, 1.25)
    trend_per_day: float = 0.008  # growth per day (compounded)
    promo_days: tuple[str, ...] = ("06-18", "11-11", "12-12")  # MM-DD, every year
    promo_monthdays: tuple[int, ...] = (8, 22)  # a shop promotion on these days each month
    promo_lift: float = 2.5
    popularity_skew: float = 0.9  # SKU k (by rank) is bought ∝ 1 / k**skew

    def factor(self, ts: float, now: float) -> float:
        """Relative demand at platform time ``ts`` (1.0: an ordinary Monday-ish day now)."""
        day = datetime.fromtimestamp(ts, GMT8)
        trend = math.exp(self.trend_per_day * (ts - now) / DAY)
        lift = self.promo_lift if self.is_promo(day) else 1.0
        return self.weekday[day.weekday()] * trend * lift

    def is_promo(self, day: datetime) -> bool:
        return day.strftime("%m-%d") in self.promo_days or day.day in self.promo_monthdays

    def as_dict(self) -> dict:
        return {
            "weekday": list(self.weekday),
            "trend_per_day": self.trend_per_day,
            "promo_days": list(self.promo_days),
            "promo_monthdays": list(self.promo_monthdays),
            "promo_lift": self.promo_lift,
        }


def draw_times(rng: random.Random, demand: Demand, count: int, days: float, now: float) -> list:
    """``count`` platform times over the last ``days``, as dense as ``demand`` says."""
    span = max(1.0, days * DAY)
    start = now - span
    edges = [start] + [
        math.floor((start + GMT8_SHIFT) / DAY + k) * DAY - GMT8_SHIFT
        for k in range(1, math.ceil(span / DAY) + 1)
    ]
    edges = sorted({t for t in edges if start <= t < now} | {start, now})
    spans = list(zip(edges, edges[1:], strict=False))
    weights = [(b - a) * demand.factor((a + b) / 2, now) for a, b in spans]
    picked = rng.choices(spans, weights, k=count)
    return sorted(a + rng.random() * (b - a) for a, b in picked)


class ItemVersion:
    """One state of an item: what the lists show from ``visible_at`` until ``hidden_at``."""

    __slots__ = ("item", "modified", "visible_at", "hidden_at", "status", "frozen")

    def __init__(
        self,
        item: ItemRecord,
        modified: int,
        visible_at: int,
        data: dict,
        previous: ItemVersion | None = None,
    ) -> None:
        self.item = item
        self.modified = modified
        self.visible_at = visible_at
        self.hidden_at = INFINITY
        self.status = data["approve_status"]
        # every sale makes a version of its item: frozen, sharing the SKUs it left alone
        self.frozen = freeze(data, previous.frozen if previous is not None else None)

    @property
    def data(self) -> dict:
        return thaw(self.frozen)

    @data.setter
    def data(self, value: dict) -> None:  # snapshots saved before versions were frozen
        self.status = value["approve_status"]
        self.frozen = freeze(value)


class ItemRecord:
    """An item: its working state (``state``, with ``skus``) and its versions."""

    def __init__(self, state: dict) -> None:
        self.num_iid = state["num_iid"]
        self.state = state
        self.versions: list[ItemVersion] = []

    @property
    def current(self) -> ItemVersion:
        return self.versions[-1]

    def visible(self, now: float) -> ItemVersion | None:
        for version in reversed(self.versions):
            if version.visible_at <= now:
                return version
        return None


@dataclass
class Stock:
    """A seller's items, the SKU weights new trades draw from, and the restock rule."""

    items: dict[int, ItemRecord] = field(default_factory=dict)
    sku_item: dict[str, int] = field(default_factory=dict)  # sku_id -> num_iid
    choices: list[tuple[int, str]] = field(default_factory=list)  # (num_iid, sku_id)
    weights: list[float] = field(default_factory=list)
    demand: Demand = field(default_factory=Demand)
    reorder_point: int = 20
    restock_batch: int = 150
    restock_rate: float = 0.7
    entries: dict[int, dict] = field(default_factory=dict)  # catalog entries by num_iid
    rng: random.Random = field(default_factory=random.Random)  # restock draws

    def pick(self, rng: random.Random) -> tuple[int, str]:
        """A (num_iid, sku_id) for a new sub-order, by popularity."""
        return rng.choices(self.choices, self.weights)[0]

    def sku(self, sku_id: str) -> dict | None:
        num_iid = self.sku_item.get(sku_id)
        if num_iid is None:
            return None
        item = self.items[num_iid]
        return next(s for s in item.state["skus"] if s["sku_id"] == sku_id)


def setup_stock(rng: random.Random, catalog: list[dict], nick: str, ts: float) -> Stock:
    """Items for ``catalog`` (the last two kept in the warehouse, never on sale), each SKU
    with a starting quantity; popularity ranks drawn at random."""
    stock = Stock(rng=rng)
    for index, entry in enumerate(catalog):
        stock.entries[entry["num_iid"]] = entry
        onsale = index < len(catalog) - 2
        skus = [_sku(rng, entry, k, sku_id, ts) for k, sku_id in enumerate(entry["skus"])]
        state = {
            "num_iid": entry["num_iid"],
            "title": entry["title"],
            "nick": nick,
            "type": "fixed",
            "cid": 50010850,
            "price": _money(entry["price"]),
            "outer_id": f"SPU-{index + 1:03d}",
            "approve_status": ONSALE if onsale else INSTOCK,
            "list_time": fmt(ts - 200 * DAY),
            "delist_time": fmt(ts + 7 * DAY),
            "skus": skus,
        }
        item = ItemRecord(state)
        stock.items[item.num_iid] = item
        for sku in skus:
            stock.sku_item[sku["sku_id"]] = item.num_iid
            if onsale:
                stock.choices.append((item.num_iid, sku["sku_id"]))
        publish(stock, item, ts - 200 * DAY, 0)
    ranks = list(range(1, len(stock.choices) + 1))
    rng.shuffle(ranks)
    stock.weights = [1.0 / rank**stock.demand.popularity_skew for rank in ranks]
    return stock


def _sku(rng: random.Random, entry: dict, k: int, sku_id: str, ts: float) -> dict:
    colour = ["红色", "黑色", "白色"][k % 3]
    return {
        "sku_id": sku_id,
        "num_iid": entry["num_iid"],
        "properties": f"1627207:{28320 + k}",
        "properties_name": f"1627207:{28320 + k}:颜色分类:{colour}",
        "price": _money(entry["price"]),
        "outer_id": f"{sku_id[-6:]}-{k}",
        "quantity": rng.randint(60, 400),
        "with_hold_quantity": 0,
        "status": "normal",
        "created": fmt(ts - 200 * DAY),
        "modified": fmt(ts - 200 * DAY),
    }


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def publish(stock: Stock, item: ItemRecord, ts: float, lag: int) -> ItemVersion:
    """Snapshot ``item.state`` as a version made at ``ts``; ``modified`` never goes back."""
    previous = item.versions[-1] if item.versions else None
    modified = int(ts) if previous is None else max(int(ts), previous.modified)
    visible_at = modified + max(0, int(lag))
    if previous is not None:
        visible_at = max(visible_at, previous.visible_at)
        previous.hidden_at = visible_at
    state = item.state
    state["modified"] = fmt(modified)
    state["num"] = sum(s["quantity"] for s in state["skus"])
    version = ItemVersion(item, modified, visible_at, state, previous)
    item.versions.append(version)
    return version


def sell(stock: Stock, orders: list[dict], ts: float, lag: int) -> None:
    """Take the units of paid ``orders`` off their SKUs (never below zero); restock the SKUs
    that fell under the reorder point, when the draw says so; one version per item."""
    touched: dict[int, ItemRecord] = {}
    for order in orders:
        sku = stock.sku(str(order.get("sku_id") or ""))
        if sku is None:
            continue
        sku["quantity"] = max(0, sku["quantity"] - int(order.get("num") or 0))
        if sku["quantity"] < stock.reorder_point and stock.rng.random() < stock.restock_rate:
            sku["quantity"] += stock.restock_batch
        sku["modified"] = fmt(ts)
        touched[sku["num_iid"]] = stock.items[sku["num_iid"]]
    for item in touched.values():
        _shelve(item)
        publish(stock, item, ts, lag)


def restock(stock: Stock, sku_id: str, units: int, ts: float, lag: int) -> dict:
    """Add ``units`` to SKU ``sku_id`` (a delivery from the supplier); return the SKU."""
    sku = stock.sku(sku_id)
    if sku is None:
        raise KeyError(f"unknown sku_id {sku_id!r}")
    sku["quantity"] += max(0, int(units))
    sku["modified"] = fmt(ts)
    item = stock.items[sku["num_iid"]]
    _shelve(item)
    publish(stock, item, ts, lag)
    return dict(sku)


def _shelve(item: ItemRecord) -> None:
    """An item on sale whose SKUs are all gone goes to the warehouse (sold out); back on
    sale once a SKU has stock again. Items never put on sale stay where they are."""
    state = item.state
    total = sum(s["quantity"] for s in state["skus"])
    if state["approve_status"] == ONSALE and total == 0:
        state["approve_status"], state["banner"] = INSTOCK, "sold_out"
    elif state.get("banner") == "sold_out" and total > 0:
        state["approve_status"] = ONSALE
        state.pop("banner")


def listed(stock: Stock, now: float, statuses: frozenset, banners: frozenset | None) -> list:
    """Every item's version visible at ``now`` in one of ``statuses`` (and ``banners``)."""
    out = []
    for item in stock.items.values():
        version = item.visible(now)
        if version is None or version.status not in statuses:
            continue
        if banners is not None and _banner(version.data) not in banners:
            continue
        out.append(version)
    return out


def _banner(data: dict) -> str:
    return data.get("banner") or ("never_on_shelf" if data["approve_status"] == INSTOCK else "")


def truth(stock: Stock) -> list[dict]:
    """Every item's current state with each SKU's quantity (the oracle)."""
    return [
        {
            "num_iid": item.num_iid,
            "approve_status": item.state["approve_status"],
            "modified": item.state["modified"],
            "visible_at": fmt(item.current.visible_at),
            "skus": {s["sku_id"]: s["quantity"] for s in item.state["skus"]},
        }
        for item in stock.items.values()
    ]


CLOSED_LINES = frozenset({"TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"})


def sold_at(data: dict) -> str | None:
    """When a trade's units count as sold (GMT+8 ``yyyy-MM-dd HH:mm:ss``): its payment (a
    presale's final payment), or its creation for cash on delivery; None while unpaid."""
    if data.get("pay_time"):
        return data["pay_time"]
    if data.get("type") == "cod" and data.get("status") not in CLOSED_LINES:
        return data["created"]
    return None


def sold_units(data: dict) -> list[tuple[str, str, int]]:
    """(sku_id, GMT+8 day, units) of a trade's sub-orders that count as sold: paid, not
    closed and not refunded."""
    when = sold_at(data)
    if when is None:
        return []
    return [
        (str(o.get("sku_id") or ""), when[:10], int(o.get("num") or 0))
        for o in data.get("orders") or []
        if o.get("status") not in CLOSED_LINES and o.get("refund_status") != "SUCCESS"
    ]


def sales_truth(trades) -> dict[str, dict[str, int]]:
    """Paid units per SKU per GMT+8 day over every trade's current version (the oracle)."""
    out: dict[str, dict[str, int]] = {}
    for trade in trades:
        for sku_id, day, units in sold_units(trade.current.data):
            per_day = out.setdefault(sku_id, {})
            per_day[day] = per_day.get(day, 0) + units
    return out
