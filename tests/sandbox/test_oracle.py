"""The oracle's content hash is the hash of the record as the detail APIs render it on the
wire (default JSON, wrapped sub-orders, string ids) with the same fields; ``visible_at`` is
when the current version reached the lists."""

from __future__ import annotations

from ordersync.sandbox.clock import parse
from ordersync.sandbox.fields import content_hash
from tests.support.sandbox_http import control

FIELDS = "tid,tid_str,status,modified,payment,receiver_city,orders"
REFUND_FIELDS = "refund_id,tid,oid,status,refund_fee,modified,reason"


def test_trade_content_is_the_hash_of_fullinfo_with_the_same_fields(sb, top):
    trades = control(sb, "GET", "oracle/trades", nick="shop-a", fields=FIELDS)["trades"]
    for row in trades[:5]:
        trade = top.ok("taobao.trade.fullinfo.get", tid=row["tid"], fields=FIELDS)["trade"]
        assert "order" in trade["orders"]  # default JSON wraps sub-orders; the hash does not care
        assert content_hash(trade) == row["content"]
        # another projection, another content
        assert content_hash({k: v for k, v in trade.items() if k != "orders"}) != row["content"]


def test_refund_content_is_the_hash_of_refund_get_with_the_same_fields(sb, top):
    refunds = control(sb, "GET", "oracle/refunds", nick="shop-a", fields=REFUND_FIELDS)["refunds"]
    assert refunds
    for row in refunds[:5]:
        refund = top.ok("taobao.refund.get", refund_id=row["refund_id"], fields=REFUND_FIELDS)
        assert content_hash(refund["refund"]) == row["content"]


def test_visible_at_is_modified_plus_the_lag_in_force(sb, top):
    control(sb, "POST", "faults", {"lag_seconds": 90})
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 3})
    trades = control(sb, "GET", "oracle/trades", nick="shop-a")["trades"]
    new = sorted(trades, key=lambda t: t["tid"])[-3:]
    for row in new:
        assert parse(row["visible_at"]) - parse(row["modified"]) == 90
