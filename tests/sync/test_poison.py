"""Poison records never stall a stream: retried a few windows, then set aside for reconcile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance
from trades.models import Refund, Trade, TradeLine
from trades.sync.incremental import sync_shop
from trades.sync.reconcile import reconcile_shop

pytestmark = pytest.mark.django_db(transaction=True)


def _burst(gateway, shop, settings, count: int) -> list[int]:
    start = timezone.now() - timedelta(minutes=5)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(cursor=start)
    gateway.control("market", {"nick": shop.seller_nick, "burst": count})
    advance(gateway, settings.SYNC_LAG_SECONDS + 1)
    return sorted(gateway.oracle_trades(shop.seller_nick))


def _retry_now(shop) -> None:
    Checkpoint.objects.filter(shop=shop).update(next_run_at=None)


def test_a_listed_trade_fullinfo_cannot_find_is_retried_then_set_aside(
    make_shop, gateway, settings
):
    settings.SYNC_LAG_SECONDS = 1
    settings.SYNC_NOT_FOUND_ATTEMPTS = 3
    shop = make_shop("lagging")
    tids = _burst(gateway, shop, settings, 5)
    hidden = tids[2]
    cursor = Checkpoint.objects.get(shop=shop, stream="trades").cursor
    gateway.faults(peak_mode=True, hidden_tids=[str(hidden)])  # every trade needs fullinfo

    for attempt in (1, 2, 3):  # probably the detail index lagging: the window is read again
        run = sync_shop(shop, "trades")
        assert run.outcome == SyncRun.Outcome.FAILED and run.error_class == "TradesNotFound"
        checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
        assert checkpoint.cursor == cursor  # nothing of the window stays
        assert checkpoint.progress["not_found"] == {str(hidden): attempt}
        _retry_now(shop)
    assert not Trade.objects.filter(shop=shop).exists()

    run = sync_shop(shop, "trades")  # the attempts are spent: set aside, the stream moves on

    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert run.set_aside == [{"key": str(hidden), "reason": "trade-not-exist"}]
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert checkpoint.cursor > cursor
    assert checkpoint.progress["set_aside"] == {str(hidden): "trade-not-exist"}
    assert checkpoint.progress["not_found"] == {}
    assert set(Trade.objects.filter(shop=shop).values_list("tid", flat=True)) == set(tids)
    # the set-aside trade is written from its list entry: status and modified, no lines yet
    assert not TradeLine.objects.filter(trade__tid=hidden).exists()
    assert TradeLine.objects.filter(trade__tid=tids[0]).exists()

    Checkpoint.objects.filter(shop=shop, stream="trades").update(cursor=cursor)
    again = sync_shop(shop, "trades")  # a re-read of its window keeps it aside, no new failures
    assert again.outcome == SyncRun.Outcome.SUCCEEDED and again.set_aside == run.set_aside

    gateway.faults(hidden_tids=[])  # the platform finds it again: the reconcile repairs it
    reconcile_shop(shop)
    assert TradeLine.objects.filter(trade__tid=hidden).exists()
    checkpoint.refresh_from_db()
    assert checkpoint.progress["set_aside"] == {}


def test_a_malformed_record_is_set_aside_and_the_rest_of_its_page_written(
    make_shop, gateway, settings
):
    settings.SYNC_LAG_SECONDS = 1
    shop = make_shop("broken")
    tids = _burst(gateway, shop, settings, 5)
    broken = tids[1]
    gateway.faults(malformed_tids=[str(broken)])

    run = sync_shop(shop, "trades")

    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert run.set_aside == [{"key": str(broken), "reason": "malformed: record without modified"}]
    written = set(Trade.objects.filter(shop=shop).values_list("tid", flat=True))
    assert written == set(tids) - {broken}
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert str(broken) in checkpoint.progress["set_aside"]

    gateway.faults(malformed_tids=[])
    reconcile_shop(shop)
    assert Trade.objects.filter(shop=shop, tid=broken).exists()
    checkpoint.refresh_from_db()
    assert checkpoint.progress["set_aside"] == {}


def test_a_malformed_refund_is_set_aside_and_repaired_by_the_reconcile(
    make_shop, gateway, settings
):
    settings.SYNC_LAG_SECONDS = 1
    shop = make_shop("refunding", history_trades=80, history_days=1)
    refunds = gateway.oracle_refunds(shop.seller_nick)
    assert refunds, "the history has refunds"
    broken = sorted(refunds)[0]
    Checkpoint.objects.filter(shop=shop, stream="refunds").update(
        cursor=timezone.now() - timedelta(days=1)
    )
    gateway.faults(malformed_tids=[str(broken)])
    _retry_now(shop)

    run = sync_shop(shop, "refunds")

    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert {"key": str(broken), "reason": "malformed: record without modified"} in run.set_aside
    assert not Refund.objects.filter(shop=shop, refund_id=broken).exists()
    gateway.faults(malformed_tids=[])
    reconcile_shop(shop)
    assert Refund.objects.filter(shop=shop, refund_id=broken).exists()
    checkpoint = Checkpoint.objects.get(shop=shop, stream="refunds")
    assert checkpoint.progress["set_aside"] == {}


def test_set_aside_records_never_stall_the_stream_and_unreturned_ones_are_reported(
    make_shop, gateway, settings, client, monkeypatch
):
    # the list once held MAX_KEPT (1,000) keys and then failed every window; ten stand in
    monkeypatch.setattr("trades.sync.poison.MAX_KEPT", 10)
    settings.SYNC_LAG_SECONDS = 1
    shop = make_shop("overflowing")
    tids = _burst(gateway, shop, settings, 12)
    never = [str(t) for t in tids[:3]]  # the platform never returns these
    gateway.faults(malformed_tids=[str(t) for t in tids], hidden_tids=never)

    run = sync_shop(shop, "trades")

    assert run.outcome == SyncRun.Outcome.SUCCEEDED  # the stream moves on
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert len(checkpoint.progress["set_aside"]) == 12

    reports = reconcile_shop(shop)

    checkpoint.refresh_from_db()
    assert checkpoint.progress["set_aside"] == {}
    assert sorted(checkpoint.progress["unresolved"]) == sorted(never)
    assert len(reports) == 2 and all(r.unresolved == 3 for r in reports)
    assert sorted(u["key"] for u in reports[-1].details["unresolved"]) == sorted(never)
    assert Trade.objects.filter(shop=shop).count() == 12 - 3
    assert sync_shop(shop, "trades").outcome == SyncRun.Outcome.SUCCEEDED
    _assert_unresolved_shown(client, shop, 3)

    gateway.faults(hidden_tids=[])  # the platform returns them after all
    reports = reconcile_shop(shop)
    checkpoint.refresh_from_db()
    assert checkpoint.progress["unresolved"] == {}
    assert len(reports) == 2 and all(r.unresolved == 0 for r in reports)
    assert Trade.objects.filter(shop=shop).count() == 12


def _assert_unresolved_shown(client, shop, count: int) -> None:
    from django.contrib.auth.models import User

    user = User.objects.create_superuser("operator", "op@example.com", "pw")
    client.force_login(user)
    metrics = client.get("/metrics").content.decode()
    labels = f'tenant="{shop.tenant.slug}",shop_id="{shop.pk}"'
    assert f"ordersync_unresolved_records{{{labels}" in metrics
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("ordersync_unresolved_records{") and 'stream="trades"' in line
    )
    assert line.endswith(f" {count}")
    page = client.get(f"/admin/shops/shop/{shop.pk}/change/").content.decode()
    assert "<th>unresolved</th>" in page
    assert f"<td>{count}</td></tr>" in page


def test_a_backfill_keeps_every_record_it_set_aside(make_shop, gateway, settings):
    from trades.sync.backfill import backfill_shop

    shop = make_shop("backfilled", history_trades=60, history_days=3)
    tids = sorted(gateway.oracle_trades(shop.seller_nick))
    broken = {str(tids[0]), str(tids[-1])}  # in different slices (oldest and newest day)
    gateway.faults(malformed_tids=sorted(broken))

    assert backfill_shop(shop, 4).outcome == SyncRun.Outcome.SUCCEEDED

    checkpoint = Checkpoint.objects.get(shop=shop, stream="backfill")
    assert set(checkpoint.progress["set_aside"]) == broken
    gateway.faults(malformed_tids=[])
    reconcile_shop(shop)
    assert {str(t) for t in Trade.objects.filter(shop=shop).values_list("tid", flat=True)} >= broken
