"""The ``fields`` parameter: which Trade, Order and Refund fields a response carries."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

# Left out of list APIs in peak mode (docs/platform.md §4.13).
PEAK_DROPPED = frozenset(
    {
        "orders",
        "payment",
        "total_fee",
        "post_fee",
        "discount_fee",
        "adjust_fee",
        "received_payment",
        "commission_fee",
        "step_paid_fee",
        "pay_time",
        "consign_time",
        "shipping_type",
        "oaid",
        "timeout_action_time",
        "cod_fee",
    }
)


class FieldSpec:
    """Parsed ``fields``: trade-level names, and order sub-fields (None = all)."""

    __slots__ = ("names", "orders", "order_names")

    def __init__(self, names: tuple[str, ...], orders: bool, order_names: tuple | None) -> None:
        self.names = names
        self.orders = orders
        self.order_names = order_names


@lru_cache(maxsize=512)
def parse_fields(text: str) -> FieldSpec:
    names: list[str] = []
    order_names: list[str] = []
    all_orders = False
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        if name == "orders":
            all_orders = True
        elif name.startswith("orders."):
            order_names.append(name[len("orders.") :])
        elif name not in names:
            names.append(name)
    if "tid" in names and "tid_str" not in names:
        names.append("tid_str")
    if "oid" in order_names and "oid_str" not in order_names:
        order_names.append("oid_str")
    orders = all_orders or bool(order_names)
    return FieldSpec(tuple(names), orders, None if all_orders else tuple(order_names))


def project_trade(data: dict, spec: FieldSpec, peak: bool = False, wrap: bool = False) -> dict:
    """Return the requested fields of a trade snapshot. Orders come as a plain list, or as
    ``{"order": [...]}`` when ``wrap`` (default JSON). Snapshots are never mutated."""
    if peak:
        return {k: data[k] for k in spec.names if k in data and k not in PEAK_DROPPED}
    out = {k: data[k] for k in spec.names if k in data}
    if spec.orders and "orders" in data:  # a client's copy may lack them
        if spec.order_names is None:
            orders = data["orders"]
        else:
            names = spec.order_names
            orders = [{k: o[k] for k in names if k in o} for o in data["orders"]]
        out["orders"] = {"order": orders} if wrap else orders
    return out


def project(data: dict, spec: FieldSpec) -> dict:
    return {k: data[k] for k in spec.names if k in data}


ID_FIELDS = frozenset({"tid", "oid", "refund_id", "num_iid"})


def content_hash(record: dict) -> str:
    """Return a short hash of a record's whole content, the same for the sandbox's snapshot
    and for a client's copy of it as read off the wire: ids are compared as numbers (the
    wire may send them as strings), sub-orders by ``oid`` whatever their order, and a
    wrapped ``{"order": [...]}`` as its list."""
    text = json.dumps(_canonical(record), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _canonical(value, key: str | None = None):
    if isinstance(value, dict):
        if key == "orders" and set(value) == {"order"}:
            return _canonical(value["order"], key)
        return {k: _canonical(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if key == "orders":
            items.sort(key=lambda order: str(order.get("oid", "")))
        return items
    if key in ID_FIELDS and isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def trade_content(data: dict, fields: str | None) -> str:
    """The content hash of a trade as ``trade.fullinfo.get`` renders it with ``fields``
    (every field of the record without ``fields``)."""
    return content_hash(data if not fields else project_trade(data, parse_fields(fields)))


def refund_content(data: dict, fields: str | None) -> str:
    """The content hash of a refund as ``taobao.refund.get`` renders it with ``fields``."""
    return content_hash(data if not fields else project(data, parse_fields(fields)))
