"""A window's page goes to the write path without the records whose write would change
nothing: one query per page finds them (stored at a newer ``modified``, or at the same one
holding every listed field), so a window re-reading what another channel stored costs no
write and no detail call. A same-second version with other content still goes through, to be
settled by the platform."""

from __future__ import annotations

import pytest

from tests.support.records import wire_trade
from trades.sync.incremental import unchanged
from trades.sync.streams import REFUNDS, TRADES
from trades.sync.write import write_refunds, write_trades

pytestmark = pytest.mark.django_db


def _listed(items: list[dict]) -> list[tuple[int, str]]:
    return [(item["tid"], item["status"]) for item in items]


def test_a_page_leaves_out_what_is_stored_and_keeps_what_may_change_a_row(shop_a):
    write_trades(shop_a, [wire_trade(tid, modified="2026-11-11 00:00:10") for tid in (1, 2, 3, 4)])
    without_orders = {k: v for k, v in wire_trade(4).items() if k != "orders"}  # peak lists
    page = [
        wire_trade(1),  # the stored version itself
        wire_trade(2, modified="2026-11-11 00:00:05"),  # older than the stored one
        wire_trade(3, status="TRADE_CLOSED"),  # same second, other content: to be settled
        without_orders,  # a list entry the stored whole trade holds
        wire_trade(5),  # not stored
        wire_trade(1, status="TRADE_CLOSED", modified="2026-11-11 00:00:11"),  # newer
    ]

    assert _listed(unchanged(shop_a, TRADES, page)) == [
        (3, "TRADE_CLOSED"),
        (5, "WAIT_BUYER_PAY"),
        (1, "TRADE_CLOSED"),
    ]
    # sweeps leave every same-second version to the overlap and the reconcile
    assert _listed(unchanged(shop_a, TRADES, page, same_second=True)) == [
        (5, "WAIT_BUYER_PAY"),
        (1, "TRADE_CLOSED"),
    ]


def test_a_stored_trade_without_orders_is_not_whole(shop_a):
    bare = {k: v for k, v in wire_trade(7).items() if k != "orders"}
    write_trades(shop_a, [bare])
    assert unchanged(shop_a, TRADES, [bare]) == [bare]  # its orders are still to be fetched


def test_refunds_too(shop_a):
    stored = {
        "refund_id": 70,
        "tid": 7,
        "oid": 7,
        "status": "WAIT_SELLER_AGREE",
        "refund_fee": "5.00",
        "created": "2026-11-11 00:00:00",
        "modified": "2026-11-11 00:10:00",
    }
    write_refunds(shop_a, [stored])
    other = {**stored, "status": "SUCCESS"}
    assert unchanged(shop_a, REFUNDS, [stored, other]) == [other]
