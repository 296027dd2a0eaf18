"""Due times follow the shop; sustained failure degrades it and a success restores it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from shops import actions
from shops.models import Checkpoint, Shop, SyncRun
from shops.schedules import UNMEASURED_MINUTES, interval_minutes, sync_schedules
from trades.models import Trade
from trades.sync.runs import auto_interval, evaluate_health, record_success


def due(shop: Shop) -> tuple[datetime | None, datetime | None]:
    """The shop's next sync and reconcile as the dispatcher reads them."""
    shop.refresh_from_db(fields=["next_sync_at", "next_reconcile_at"])
    return shop.next_sync_at, shop.next_reconcile_at


def test_due_times_are_set_once_and_follow_the_shop(shop_a):
    sync_schedules(shop_a)
    first = due(shop_a)
    sync_schedules(shop_a)
    assert due(shop_a) == first and None not in first  # idempotent: an active shop keeps both

    later = timezone.now() + timedelta(minutes=25)
    Shop.objects.filter(pk=shop_a.pk).update(next_sync_at=later, interval_minutes=30)
    shop_a.refresh_from_db()
    actions.set_interval(shop_a, 5)  # a shorter interval brings the next sync within it
    assert due(shop_a)[0] <= timezone.now() + timedelta(minutes=5)
    actions.set_degraded(shop_a, True)  # a longer one does not push it away
    assert due(shop_a)[0] <= timezone.now() + timedelta(minutes=5)
    actions.pause_shop(shop_a)
    assert due(shop_a) == (None, None)
    actions.resume_shop(shop_a)
    assert None not in due(shop_a)


def record(shop: Shop, at: datetime, outcome: str, stream: str = "trades") -> None:
    """A finished incremental run that started at ``at`` and took ten seconds."""
    run = SyncRun.objects.create(
        shop=shop, stream=stream, kind="incremental", outcome=outcome, error_class="Transient"
    )
    SyncRun.objects.filter(pk=run.pk).update(
        started_at=at, finished_at=at + timedelta(seconds=10), error_message="HTTP 502"
    )
    evaluate_health(shop)
    shop.refresh_from_db()


T0 = timezone.now() - timedelta(hours=3)


def test_a_blip_does_not_degrade(shop_a, settings):
    """Two failed runs of six, one a manual sync during a 502 burst: the shop stays normal."""
    settings.SYNC_DEGRADE_AFTER_MINUTES = 15
    record(shop_a, T0, "succeeded")
    record(shop_a, T0 + timedelta(minutes=5), "failed")
    record(shop_a, T0 + timedelta(minutes=6), "failed")  # "Sync now" in the same burst
    assert not shop_a.degraded
    for minutes in (10, 15, 20):
        record(shop_a, T0 + timedelta(minutes=minutes), "succeeded")
    assert not shop_a.degraded and shop_a.degraded_reason == ""
    # failures spread over an hour, each followed by a success, are blips too
    for minutes in range(30, 90, 10):
        record(shop_a, T0 + timedelta(minutes=minutes), "failed")
        record(shop_a, T0 + timedelta(minutes=minutes + 1), "succeeded")
    assert not shop_a.degraded


def test_sustained_failure_degrades_and_one_success_restores(shop_a, settings):
    settings.SYNC_DEGRADE_AFTER_MINUTES = 15
    record(shop_a, T0, "succeeded")
    record(shop_a, T0 + timedelta(minutes=2), "failed")
    record(shop_a, T0 + timedelta(minutes=10), "failed")
    assert not shop_a.degraded  # 8 minutes of failures: not yet
    record(shop_a, T0 + timedelta(minutes=17), "failed", stream="refunds")
    assert not shop_a.degraded  # another stream's failure does not lengthen this one's
    record(shop_a, T0 + timedelta(minutes=18), "failed")
    assert shop_a.degraded
    assert shop_a.degraded_since is not None
    assert shop_a.degraded_reason.startswith("trades: all 3 runs failed over 16 min since ")
    assert "+08:00; last: Transient: HTTP 502" in shop_a.degraded_reason
    assert interval_minutes(shop_a) == 30  # the dispatcher spaces its syncs further apart
    since = shop_a.degraded_since
    record(shop_a, T0 + timedelta(minutes=48), "failed")
    assert shop_a.degraded_since == since  # still the same spell
    assert "all 4 runs failed over 46 min" in shop_a.degraded_reason

    record(shop_a, T0 + timedelta(minutes=78), "succeeded")
    assert not shop_a.degraded  # the first success restores it
    assert (shop_a.degraded_since, shop_a.degraded_reason) == (None, "")


def test_the_setting_decides_how_long_is_sustained(shop_a, settings):
    settings.SYNC_DEGRADE_AFTER_MINUTES = 60
    record(shop_a, T0, "failed")
    record(shop_a, T0 + timedelta(minutes=30), "failed")
    assert not shop_a.degraded
    record(shop_a, T0 + timedelta(minutes=61), "failed")
    assert shop_a.degraded


def test_interval_follows_volume():
    assert auto_interval(0) == 30
    assert auto_interval(10) == 10  # a quiet shop: every 10 minutes
    assert auto_interval(1500) == 2
    assert auto_interval(100000) == 1


def test_the_reconcile_follows_a_changed_hour(shop_a, settings):
    from ordersync.taobao.types import PLATFORM_TZ

    settings.RECONCILE_HOUR = 3
    sync_schedules(shop_a)
    first = due(shop_a)[1]
    assert first.astimezone(PLATFORM_TZ).hour == 3
    sync_schedules(shop_a)
    assert due(shop_a)[1] == first  # unchanged: kept
    settings.RECONCILE_HOUR = 5
    sync_schedules(shop_a)
    moved = due(shop_a)[1].astimezone(PLATFORM_TZ)
    assert moved.hour == 5 and moved.minute == 0


def _trades_modified(shop: Shop, count: int, within: timedelta, end: datetime) -> None:
    step = within / count
    Trade.objects.bulk_create(
        Trade(
            tenant=shop.tenant,
            shop=shop,
            tid=10_000 + n,
            status="WAIT_SELLER_SEND_GOODS",
            created=end - n * step,
            modified=end - n * step,
        )
        for n in range(count)
    )


def _backfill(shop: Shop, finished: bool) -> None:
    actions.ensure_checkpoints(shop)
    progress = {"from": "2026-09-01 00:00:00", "until": "2026-12-01 00:00:00"}
    if finished:
        progress["finished_at"] = "2026-12-01 00:05:00"
    Checkpoint.objects.filter(shop=shop, stream="backfill").update(progress=progress)


def test_a_shop_not_measured_yet_is_polled_often_not_put_on_the_idle_cadence(shop_a):
    sync_schedules(shop_a)
    assert shop_a.interval_minutes is None
    assert interval_minutes(shop_a) == UNMEASURED_MINUTES == 1


def test_after_its_backfill_a_busy_shop_runs_at_the_cadence_of_its_volume(shop_a):
    """900 trades changed in the last hour, all written by the backfill (or TMC): the sync run
    after it writes nothing new, and the shop is still a busy one."""
    now = timezone.now()
    _trades_modified(shop_a, 900, timedelta(minutes=59), now)
    _backfill(shop_a, finished=False)
    sync_schedules(shop_a)
    record_success(shop_a, now)  # a run during the backfill: the volume is not known yet
    shop_a.refresh_from_db()
    assert interval_minutes(shop_a) == UNMEASURED_MINUTES

    _backfill(shop_a, finished=True)
    SyncRun.objects.create(
        shop=shop_a, stream="trades", kind="incremental", outcome="succeeded", trades_written=0
    )
    record_success(shop_a, now)
    shop_a.refresh_from_db()
    assert shop_a.interval_minutes == auto_interval(900) == 3
    assert interval_minutes(shop_a) == 3


def test_a_shop_that_gets_busy_is_polled_faster_within_minutes(shop_a):
    now = timezone.now()
    _trades_modified(shop_a, 200, timedelta(minutes=9), now)  # quiet before
    _backfill(shop_a, finished=True)
    record_success(shop_a, now)
    shop_a.refresh_from_db()
    assert shop_a.interval_minutes == auto_interval(200 * 6) == 2


def test_an_idle_shop_after_its_backfill_goes_to_the_idle_cadence(shop_a):
    now = timezone.now()
    _trades_modified(shop_a, 5, timedelta(days=3), now - timedelta(hours=2))
    _backfill(shop_a, finished=True)
    record_success(shop_a, now)
    shop_a.refresh_from_db()
    assert shop_a.interval_minutes == 30
