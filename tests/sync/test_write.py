"""The write path: monotonic upserts, sub-orders, and the change feed in the same transaction."""

from __future__ import annotations

import pytest

from tests.support.records import wire_trade as trade
from trades.feed.models import ChangeEvent
from trades.models import Trade, TradeLine
from trades.sync.write import MalformedRecord, write_refunds, write_trades


def test_insert_then_newer_update_is_written_and_fed(shop_a):
    first = write_trades(shop_a, [trade()])
    assert first.written == 1 and first.changes[0].previous_status is None
    second = write_trades(
        shop_a, [trade(status="WAIT_SELLER_SEND_GOODS", modified="2026-11-11 00:05:00")]
    )
    assert second.changes[0].previous_status == "WAIT_BUYER_PAY"
    row = Trade.objects.get(shop=shop_a, tid=1)
    assert row.status == "WAIT_SELLER_SEND_GOODS" and str(row.payment) == "10.50"
    assert TradeLine.objects.get(trade=row).status == "WAIT_SELLER_SEND_GOODS"
    assert list(ChangeEvent.objects.values_list("status", "previous_status").order_by("id")) == [
        ("WAIT_BUYER_PAY", None),
        ("WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_PAY"),
    ]


def test_older_or_same_version_never_overwrites(shop_a):
    write_trades(shop_a, [trade(status="TRADE_FINISHED", modified="2026-11-11 01:00:00")])
    stale = write_trades(shop_a, [trade(status="WAIT_BUYER_PAY", modified="2026-11-11 00:00:10")])
    again = write_trades(shop_a, [trade(status="TRADE_FINISHED", modified="2026-11-11 01:00:00")])
    assert stale.written == 0 and again.written == 0
    assert Trade.objects.get(tid=1).status == "TRADE_FINISHED"
    assert ChangeEvent.objects.count() == 1


def test_a_second_change_within_the_same_second_is_written_from_the_detail_api(shop_a):
    # modified has whole seconds: the platform changed the trade twice at 01:00:00
    write_trades(shop_a, [trade(status="WAIT_SELLER_SEND_GOODS", modified="2026-11-11 01:00:00")])
    later = write_trades(
        shop_a, [trade(status="TRADE_CLOSED", modified="2026-11-11 01:00:00")], current=True
    )
    assert later.written == 1 and later.changes[0].previous_status == "WAIT_SELLER_SEND_GOODS"
    assert Trade.objects.get(tid=1).status == "TRADE_CLOSED"
    assert TradeLine.objects.get(trade__tid=1).status == "TRADE_CLOSED"
    # the same version read again changes nothing and feeds nothing
    again = write_trades(shop_a, [trade(status="TRADE_CLOSED", modified="2026-11-11 01:00:00")])
    assert again.written == 0
    assert ChangeEvent.objects.count() == 2


def test_duplicates_in_one_page_keep_the_newest(shop_a):
    result = write_trades(
        shop_a,
        [
            trade(modified="2026-11-11 00:00:10"),
            trade(status="TRADE_CLOSED", modified="2026-11-11 00:09:00"),
        ],
    )
    assert result.written == 1
    assert Trade.objects.get(tid=1).status == "TRADE_CLOSED"


def test_big_ids_and_many_sub_orders(shop_a):
    big = 2**60 + 12345
    write_trades(shop_a, [trade(tid=big, oids=(big + 1, big + 2, big + 3))])
    assert sorted(TradeLine.objects.values_list("oid", flat=True)) == [big + 1, big + 2, big + 3]


def test_a_malformed_record_writes_nothing_of_its_page(shop_a):
    broken = trade(tid=2)
    del broken["modified"]
    with pytest.raises(MalformedRecord, match="modified"):
        write_trades(shop_a, [trade(tid=1), broken])
    assert not Trade.objects.exists()


def test_refunds_are_monotonic_too(shop_a):
    refund = {
        "refund_id": 9,
        "tid": 1,
        "oid": 1,
        "status": "WAIT_SELLER_AGREE",
        "refund_fee": "5.00",
        "created": "2026-11-11 00:00:00",
        "modified": "2026-11-11 00:10:00",
    }
    write_refunds(shop_a, [refund])
    assert (
        write_refunds(
            shop_a, [{**refund, "status": "X", "modified": "2026-11-11 00:01:00"}]
        ).written
        == 0
    )
    assert (
        write_refunds(
            shop_a, [{**refund, "status": "SUCCESS", "modified": "2026-11-11 00:20:00"}]
        ).written
        == 1
    )
