"""The sync engine end to end against the sandbox on loopback, on real PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from ordersync.taobao.client import TopClient
from ordersync.taobao.retry import RetryPolicy
from ordersync.taobao.types import parse_time
from shops.models import Checkpoint, Shop, SyncRun
from shops.top import app_credentials
from tests.support.clock import advance
from tests.support.oracle import assert_matches_oracle
from tests.sync.naive import naive_sync
from trades.models import Trade
from trades.sync.backfill import backfill_shop
from trades.sync.incremental import sync_shop
from trades.sync.runs import request_pause

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_backfill_asked_to_pause_ends_after_the_slice_in_hand_and_resumes(make_shop):
    shop = make_shop("pause", history_trades=400, history_days=10)
    request_pause(True)
    try:
        paused = backfill_shop(shop, 12, time_limit=600)
    finally:
        request_pause(False)
    assert paused.outcome == SyncRun.Outcome.SUCCEEDED
    state = Checkpoint.objects.get(shop=shop, stream="backfill").progress
    assert "finished_at" not in state
    assert parse_time(state["trades_done_until"]) < parse_time(state["until"])

    resumed = backfill_shop(shop, 12, time_limit=600)
    assert "finished_at" in Checkpoint.objects.get(shop=shop, stream="backfill").progress
    assert paused.trades_written < 400
    assert paused.trades_written + resumed.trades_written == 400


def test_backfill_matches_the_oracle_and_resumes_after_a_failure(make_shop, gateway, settings):
    settings.TOP_MAX_ATTEMPTS = 1
    shop = make_shop("resume", history_trades=400, history_days=10)
    reports = []

    def fail_after_three(progress):
        reports.append(progress)
        if len(reports) == 3:
            gateway.faults(isp_rate=1.0)

    failed = backfill_shop(shop, 12, on_progress=fail_after_three)
    assert failed.outcome == SyncRun.Outcome.FAILED and failed.error_class == "Transient"
    state = Checkpoint.objects.get(shop=shop, stream="backfill").progress
    begin, done, until = (parse_time(state[k]) for k in ("from", "trades_done_until", "until"))
    assert begin < done < until  # three slices were recorded before the failure
    # the slices still to read: from the recorded end on, at the (narrowed) recorded width
    width, slices, at = timedelta(seconds=state["slice_seconds"]), 0, done
    while at < until:
        at, width, slices = min(until, at + width), min(timedelta(days=1), width * 2), slices + 1
    assert 0 < slices < 12

    gateway.faults(isp_rate=0.0)
    sold_before = _sold_get_calls(gateway, shop)
    resumed = backfill_shop(shop, 12)

    assert resumed.outcome == SyncRun.Outcome.SUCCEEDED
    # the resumed run read exactly the slices after the recorded one, one page each (about
    # 40 trades a day): none of the slices written before the failure was read again
    assert _sold_get_calls(gateway, shop) - sold_before == slices
    assert resumed.window_start == begin  # the same backfill, not a new one
    assert resumed.trades_written + failed.trades_written == 400
    assert_matches_oracle(gateway, shop)


def _sold_get_calls(gateway, shop: Shop) -> int:
    calls = gateway.control("stats")["calls"].get("taobao.trades.sold.get", {})
    return calls.get(shop.app.app_key, 0)


@pytest.mark.e2e
def test_the_naive_scheme_loses_trades_in_the_same_sandbox(make_shop, gateway, sandbox_app):
    shop = make_shop("naive", history_trades=0)
    client = TopClient(app_credentials(sandbox_app), policy=RetryPolicy(max_attempts=1))
    gateway.control(
        "market", {"nick": "naive", "trades_per_minute": 900, "changes_per_minute": 1800}
    )
    gateway.faults(lag_seconds=3, drift_rate=0.5, isp_rate=0.05)
    store: dict[int, dict] = {}
    from datetime import datetime

    from ordersync.taobao.types import PLATFORM_TZ

    start = datetime.now(PLATFORM_TZ).replace(microsecond=0)
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        start = naive_sync(client, shop.session_key, start, store)
        time.sleep(0.5)
    gateway.control("market", {"nick": "naive", "trades_per_minute": 0, "changes_per_minute": 0})
    gateway.faults(isp_rate=0, drift_rate=0)
    time.sleep(4)
    start = naive_sync(client, shop.session_key, start, store)
    oracle = gateway.oracle_trades("naive")
    lost = [tid for tid, t in oracle.items() if store.get(tid, {}).get("modified") != t["modified"]]
    assert len(lost) > 0


def test_an_invalid_session_marks_the_shop_and_stops_its_schedules(make_shop):
    from shops.schedules import sync_schedules

    shop = make_shop("expired")
    sync_schedules(shop)
    shop.refresh_from_db()
    assert shop.next_sync_at is not None and shop.next_reconcile_at is not None
    Shop.objects.filter(pk=shop.pk).update(session_key="not-a-session")
    from datetime import timedelta

    from django.utils import timezone

    Checkpoint.objects.filter(shop=shop).update(cursor=timezone.now() - timedelta(minutes=30))
    shop.refresh_from_db()
    run = sync_shop(shop, "trades")
    assert run.outcome == SyncRun.Outcome.FAILED and run.error_class == "SessionInvalid"
    shop.refresh_from_db()
    assert shop.status == Shop.Status.NEEDS_REAUTH
    assert shop.next_sync_at is None and shop.next_reconcile_at is None
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert checkpoint.consecutive_failures == 1 and "SessionInvalid" in checkpoint.last_error


def test_a_double_11_burst_is_synced_whole(make_shop, gateway, settings):
    settings.SYNC_LAG_SECONDS = 3
    settings.SYNC_SPLIT_THRESHOLD = 1000  # small, so the burst window must be split
    shop = make_shop("d11", history_trades=0)
    from datetime import timedelta

    from django.utils import timezone

    Checkpoint.objects.filter(shop=shop).update(cursor=timezone.now() - timedelta(minutes=1))
    gateway.faults(lag_seconds=2, drift_rate=0.3)
    gateway.control("market", {"nick": "d11", "burst": 3000, "changes_per_minute": 600})
    advance(gateway, 2, step=0.1)
    gateway.control("market", {"nick": "d11", "changes_per_minute": 0})
    advance(gateway, settings.SYNC_LAG_SECONDS + 1)
    assert sync_shop(shop, "trades").outcome == SyncRun.Outcome.SUCCEEDED
    gateway.faults(drift_rate=0)  # drift changes trades while they are read: one more round
    advance(gateway, settings.SYNC_LAG_SECONDS + 1)
    assert sync_shop(shop, "trades").outcome == SyncRun.Outcome.SUCCEEDED
    assert sync_shop(shop, "refunds").outcome == SyncRun.Outcome.SUCCEEDED
    assert_matches_oracle(gateway, shop)
    assert Trade.objects.filter(shop=shop).count() >= 3000
    # the window was split until each part held at most the threshold
    assert Checkpoint.objects.get(shop=shop, stream="trades").progress["window_seconds"] < 1800
