"""Sales per SKU per day, kept current by the write path, never recomputed.

A sub-order counts as sold on the GMT+8 day of its trade's ``pay_time`` (a presale's is its
final payment), or of its ``created`` for cash on delivery, with its ``num`` units, unless
it is closed (``TRADE_CLOSED``, ``TRADE_CLOSED_BY_TAOBAO``) or refunded (``refund_status``
``SUCCESS``). Each stored line keeps what it counts now (``sold_on``, ``sold_units``); when
the write path upserts lines it adds the difference between what they count and what they
counted to ``SkuDailySales``, in the same transaction, so the figures are exactly what the
stored lines say, whatever order versions arrive in.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ordersync.taobao.types import parse_time
from shops.models import Shop
from trades.db import binary_cursor

CLOSED = frozenset({"TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"})
Count = tuple[date | None, int]  # (day sold, units)


def sold(trade: dict[str, Any], order: dict[str, Any]) -> Count:
    """What one sub-order of ``trade`` counts as sold now."""
    when = parse_time(trade.get("pay_time"))
    if when is None and trade.get("type") == "cod" and trade.get("status") not in CLOSED:
        when = parse_time(trade.get("created"))
    if when is None or order.get("status") in CLOSED or order.get("refund_status") == "SUCCESS":
        return None, 0
    return when.date(), int(order.get("num") or 0)


def counted(pairs: list[tuple[int, dict[str, Any]]]) -> dict[tuple[int, int], Count]:
    """What the stored lines of ``pairs`` (trade pk, order) count now, locked for the write."""
    trades = [t for t, _ in pairs]
    with binary_cursor() as cursor:
        cursor.execute(
            """
            SELECT l.trade_id, l.oid, l.sold_on, l.sold_units FROM trades_tradeline l
            JOIN unnest(%b::bigint[], %b::bigint[]) AS u(t, o) ON l.trade_id = u.t AND l.oid = u.o
            WHERE l.trade_id = ANY(%b)
            ORDER BY l.trade_id, l.oid FOR UPDATE OF l
            """,
            # ``= ANY`` beside the join: the lines of these trades are found by index, not by
            # hashing every stored line
            [trades, [o["oid"] for _, o in pairs], trades],
        )
        return {(t, o): (day, units) for t, o, day, units in cursor.fetchall()}


def add_differences(
    shop: Shop, lines: list[tuple[int, dict[str, Any], Count]], before: dict[tuple[int, int], Count]
) -> None:
    """Add to ``SkuDailySales`` what ``lines`` (trade pk, order, count now) count beyond
    what they counted ``before``."""
    delta: dict[tuple[str, date], list[Any]] = {}  # [units, num_iid]
    for trade_id, order, (day, units) in lines:
        old_day, old_units = before.get((trade_id, order["oid"]), (None, 0))
        sku = str(order.get("sku_id") or "")
        for when, change in ((old_day, -old_units), (day, units)):
            if when is not None and change:
                entry = delta.setdefault((sku, when), [0, order.get("num_iid")])
                entry[0] += change
    rows = sorted((k, v) for k, v in delta.items() if v[0])  # one lock order for all writers
    if rows:
        _upsert(shop, rows)


def _upsert(shop: Shop, rows: list) -> None:
    with binary_cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO trades_skudailysales (tenant_id, shop_id, sku_id, day, units, num_iid)
            SELECT %b, %b, u.* FROM unnest(%b::text[], %b::date[], %b::int[], %b::bigint[])
              AS u(sku_id, day, units, num_iid)
            ON CONFLICT (shop_id, sku_id, day)
            DO UPDATE SET units = trades_skudailysales.units + EXCLUDED.units
            """,
            [
                shop.tenant_id,
                shop.pk,
                [sku for (sku, _), _ in rows],
                [day for (_, day), _ in rows],
                [units for _, (units, _) in rows],
                [num_iid for _, (_, num_iid) in rows],
            ],
        )
