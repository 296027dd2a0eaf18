"""The ``fields`` parameter: which Trade, Order and Refund fields a response carries."""

from __future__ import annotations

from functools import lru_cache

# Left out of list APIs in peak mode (top-api.md §4.13).
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


def project_trade(data: dict, spec: FieldSpec, peak: bool = False) -> dict:
    """Return the requested fields of a trade snapshot (orders as a plain list)."""
    if peak:
        out = {k: data[k] for k in spec.names if k in data and k not in PEAK_DROPPED}
        return out
    out = {k: data[k] for k in spec.names if k in data}
    if spec.orders:
        if spec.order_names is None:
            out["orders"] = [dict(o) for o in data["orders"]]
        else:
            names = spec.order_names
            out["orders"] = [{k: o[k] for k in names if k in o} for o in data["orders"]]
    return out


def project(data: dict, spec: FieldSpec) -> dict:
    return {k: data[k] for k in spec.names if k in data}
