"""Refunds against the platform as it lists them: every type asked for, any list order,
malformed records set aside in the backfill, and a daily reconcile that covers refunds and
every day since the last one reconciled whole."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from django.utils import timezone

from ordersync.taobao.types import PLATFORM_TZ
from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance, next_platform_time, stop_at
from trades.models import ReconcileReport, Refund
from trades.sync.backfill import backfill_shop
from trades.sync.incremental import sync_shop
from trades.sync.reconcile import reconcile_shop

pytestmark = pytest.mark.django_db(transaction=True)
QUIET = {"trades_per_minute": 0, "changes_per_minute": 0, "refunds_per_minute": 0}
DEFAULT_REFUND_TYPES = {"fixed", "auction", "auto_delivery"}


def _ours(shop) -> dict[int, tuple[str, str]]:
    return {
        r.refund_id: (r.status, r.modified.astimezone(PLATFORM_TZ).strftime("%Y-%m-%d %H:%M:%S"))
        for r in Refund.objects.filter(shop=shop)
    }


def _truth(gateway, shop) -> dict[int, tuple[str, str]]:
    return {
        rid: (r["status"], r["modified"])
        for rid, r in gateway.oracle_refunds(shop.seller_nick).items()
    }


def test_the_backfill_gets_refunds_of_every_synced_type(make_shop, gateway):
    shop = make_shop("typed", history_trades=200, history_days=3)
    refunds = gateway.oracle_refunds(shop.seller_nick)
    assert any(r["type"] not in DEFAULT_REFUND_TYPES for r in refunds.values()), (
        "the history has refunds the platform's default type filter hides"
    )

    assert backfill_shop(shop, 4).outcome == SyncRun.Outcome.SUCCEEDED

    assert _ours(shop) == _truth(gateway, shop)


@pytest.mark.parametrize("order", ["modified_desc", "created_asc"])
def test_live_refunds_with_lag_and_drift_lose_nothing_in_either_list_order(
    make_shop, gateway, settings, order
):
    settings.SYNC_LAG_SECONDS = 3
    settings.SYNC_PAGE_SIZE = 5  # several pages per window, so drift crosses page boundaries
    # a few hours of history: many paid trades still open, so refunds open all the time
    shop = make_shop(f"refunds-{order}", history_trades=300, history_days=0.3)
    assert backfill_shop(shop, 2).outcome == SyncRun.Outcome.SUCCEEDED
    gateway.faults(refund_order=order, lag_seconds=2, drift_rate=1.0, drift_trades=2)
    gateway.faults(same_second_rate=0.3, same_second_delay_seconds=1)
    gateway.control(
        "market",
        {"nick": shop.seller_nick, "trades_per_minute": 60, "changes_per_minute": 600}
        | {"refunds_per_minute": 240},
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sync_shop(shop, "refunds")
        Checkpoint.objects.filter(shop=shop).update(next_run_at=None)
    gateway.control("market", {"nick": shop.seller_nick} | QUIET)
    gateway.faults(drift_rate=0.0)
    advance(gateway, settings.SYNC_LAG_SECONDS + 1)
    assert sync_shop(shop, "refunds").outcome == SyncRun.Outcome.SUCCEEDED

    truth = _truth(gateway, shop)
    ours = _ours(shop)
    missing = truth.keys() - ours.keys()
    stale = {rid for rid in truth.keys() & ours.keys() if truth[rid] != ours[rid]}
    assert not missing and not stale, f"{len(missing)} missing, {len(stale)} stale"
    injected = gateway.control("stats")["errors_injected"]
    assert injected.get("drift", 0) > 0 and injected.get("same_second", 0) > 0
    # the content too: of two versions in one second, the later one is kept
    world = gateway.sandbox.state.sellers[shop.seller_nick]
    for refund in Refund.objects.filter(shop=shop):
        assert refund.payload.get("desc") == world.refunds[str(refund.refund_id)].data["desc"]


def test_the_refund_backfill_sets_a_malformed_refund_aside(make_shop, gateway):
    shop = make_shop("refund-poison", history_trades=120, history_days=2)
    broken = str(sorted(gateway.oracle_refunds(shop.seller_nick))[0])
    gateway.faults(malformed_tids=[broken])

    run = backfill_shop(shop, 3)

    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert {"key": broken, "reason": "malformed: record without modified"} in run.set_aside
    progress = Checkpoint.objects.get(shop=shop, stream="backfill").progress
    assert progress["refund_set_aside"] == {broken: "malformed: record without modified"}
    assert not progress.get("set_aside")  # trades and refunds are kept apart

    gateway.faults(malformed_tids=[])
    reconcile_shop(shop)
    assert Refund.objects.filter(shop=shop, refund_id=int(broken)).exists()
    progress = Checkpoint.objects.get(shop=shop, stream="backfill").progress
    assert progress["refund_set_aside"] == {} and progress["refund_unresolved"] == {}


def test_the_reconcile_finds_missing_and_stale_refunds(make_shop, gateway):
    shop = make_shop("refund-holes", history_trades=200, history_days=2)
    backfill_shop(shop, 3)
    recent = timezone.now() - timedelta(hours=20)  # modified yesterday or today
    local = Refund.objects.filter(shop=shop, modified__gte=recent).order_by("refund_id")
    assert local.count() >= 3
    lost = list(local.values_list("refund_id", flat=True)[:2])
    stale = local.exclude(refund_id__in=lost).first()
    truth = (stale.status, stale.modified)
    Refund.objects.filter(shop=shop, refund_id__in=lost).delete()
    Refund.objects.filter(pk=stale.pk).update(
        status="WAIT_SELLER_AGREE", modified=stale.modified - timedelta(days=400)
    )

    reports = reconcile_shop(shop)

    assert sum(r.refunds_missing_found for r in reports) == 2
    assert sum(r.refunds_stale_fixed for r in reports) == 1
    assert sorted(k for r in reports for k in r.details.get("refunds", {}).get("missing", [])) == (
        sorted(lost)
    )
    stale.refresh_from_db()
    assert (stale.status, stale.modified) == truth
    assert _ours(shop) == _truth(gateway, shop)
    again = reconcile_shop(shop)
    assert [r.refunds_missing_found for r in again] == [0, 0]
    assert all(r.refunds_platform_count == r.refunds_local_count for r in again)


def _client(shop, **kw):
    from ordersync.taobao.store import client_for
    from shops.top import app_credentials

    return client_for(app_credentials(shop.app), calls_per_minute=100000, **kw)


def _set_reconciled_until(shop, day: date) -> None:
    checkpoint, _ = Checkpoint.objects.get_or_create(shop=shop, stream="reconcile")
    checkpoint.progress = {**checkpoint.progress, "reconciled_until": day.isoformat()}
    checkpoint.save()


def test_every_day_since_the_last_whole_reconcile_is_reconciled(make_shop, gateway, settings):
    settings.TOP_MAX_ATTEMPTS = 1
    # at noon: the test reads "yesterday is over" and "today is not", which the platform's
    # midnight and the visibility lag after it would make true or false by the wall clock
    clock = stop_at(gateway, next_platform_time(gateway, 12))
    shop = make_shop("missed-days", history_trades=60, history_days=5)
    client = _client(shop, clock=clock)
    backfill_shop(shop, 6, client=client)
    today = clock.now().date()
    days = [today - timedelta(days=n) for n in (3, 2, 1, 0)]
    _set_reconciled_until(shop, days[0] - timedelta(days=1))  # three days were missed

    def heal(record) -> None:  # the first day's first call fails, then the platform is well
        if record.outcome != "ok":
            gateway.faults(isp_rate=0.0)

    failing = _client(shop, on_call=heal, clock=clock)
    gateway.faults(isp_rate=1.0)
    reports = reconcile_shop(shop, client=failing)

    assert [r.day for r in reports] == days[1:]  # the first day failed, the others ran
    assert _reconciled_until(shop) == days[0] - timedelta(days=1)  # the failed day is not forgotten

    reports = reconcile_shop(shop, client=client)

    assert [r.day for r in reports] == days  # it is made up, with every day after it
    assert _reconciled_until(shop) == days[2]  # yesterday: today is not over yet
    assert [r.day for r in reconcile_shop(shop, client=client)] == days[2:]
    assert ReconcileReport.objects.filter(shop=shop, day=days[0]).count() == 1


def _reconciled_until(shop) -> date:
    progress = Checkpoint.objects.get(shop=shop, stream="reconcile").progress
    return date.fromisoformat(progress["reconciled_until"])


# seconds from the platform's midnight: just before it, at it, just after it, within the
# visibility lag after it, and at the lag's end (SYNC_LAG_SECONDS is 180)
@pytest.mark.parametrize("second", [-1, 0, 1, 179, 180])
def test_a_day_counts_as_reconciled_only_once_it_and_the_lag_after_it_are_over(
    make_shop, gateway, settings, second
):
    settings.SYNC_LAG_SECONDS = 180
    midnight = next_platform_time(gateway, 0)
    clock = stop_at(gateway, midnight + timedelta(seconds=second))
    shop = make_shop("midnight", history_trades=30, history_days=4)
    client = _client(shop, clock=clock)
    backfill_shop(shop, 5, client=client)
    today = clock.now().date()  # the platform's date: the day before midnight until it
    _set_reconciled_until(shop, today - timedelta(days=2))

    reports = reconcile_shop(shop, client=client)

    assert [r.day for r in reports] == [today - timedelta(days=1), today]
    # until the lag after midnight is over, the day just ended may still show changes of its
    # last seconds: it is reconciled, but not yet whole
    whole = midnight.date() - timedelta(days=1 if second >= 180 else 2)
    assert _reconciled_until(shop) == whole

    advance(gateway, 180 - second)  # to the end of the lag after midnight

    day = midnight.date()
    assert [r.day for r in reconcile_shop(shop, client=client)] == [day - timedelta(days=1), day]
    assert _reconciled_until(shop) == midnight.date() - timedelta(days=1)  # the day is made up


def test_a_refund_the_platform_does_not_return_is_unresolved_since_the_platform_date(
    make_shop, gateway
):
    # half past midnight on the platform is 16:30 UTC of the day before
    clock = stop_at(gateway, next_platform_time(gateway, 0, 30))
    shop = make_shop("unreturned")
    checkpoint = Checkpoint.objects.get(shop=shop, stream="refunds")
    checkpoint.progress = {"set_aside": {"987654321": "malformed: record without modified"}}
    checkpoint.save()

    reconcile_shop(shop, client=_client(shop, clock=clock))

    checkpoint.refresh_from_db()
    entry = checkpoint.progress["unresolved"]["987654321"]
    assert entry["since"] == clock.now().date().isoformat()


def test_a_reconcile_out_of_time_leaves_the_days_due_to_the_next_run(make_shop, gateway):
    from trades.tasks import resume_unfinished

    clock = stop_at(gateway, next_platform_time(gateway, 12))  # no midnight while it runs
    shop = make_shop("far-behind", history_trades=30, history_days=4)
    client = _client(shop, clock=clock)
    backfill_shop(shop, 5, client=client)
    today = clock.now().date()
    days = [today - timedelta(days=n) for n in (3, 2, 1, 0)]
    _set_reconciled_until(shop, days[0] - timedelta(days=1))

    # every day but the first is past the limit
    reports = reconcile_shop(shop, client=client, time_limit=0)

    assert [r.day for r in reports] == days[:1]
    checkpoint = Checkpoint.objects.get(shop=shop, stream="reconcile")
    assert checkpoint.progress["days_left"] == 3
    assert checkpoint.progress["reconciled_until"] == days[0].isoformat()
    assert resume_unfinished(shop) == ["reconcile"]  # the scheduled sync queues the rest

    assert [r.day for r in reconcile_shop(shop, client=client)] == days[1:]
    assert Checkpoint.objects.get(shop=shop, stream="reconcile").progress["days_left"] == 0
