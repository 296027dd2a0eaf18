"""Schedules follow the shop; failure rates degrade it and successes restore it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django_q.models import Schedule

from shops import actions
from shops.models import Checkpoint, Shop, SyncRun
from shops.schedules import UNMEASURED_MINUTES, reconcile_name, sync_name, sync_schedules
from trades.models import Trade
from trades.sync.runs import auto_interval, evaluate_health, record_success


def schedules_of(shop: Shop) -> dict[str, Schedule]:
    return {s.name: s for s in Schedule.objects.filter(name__startswith=f"shop-{shop.pk}-")}


def test_schedules_are_created_once_and_follow_the_shop(shop_a):
    sync_schedules(shop_a)
    sync_schedules(shop_a)
    found = schedules_of(shop_a)
    assert set(found) == {sync_name(shop_a), reconcile_name(shop_a)}
    assert found[sync_name(shop_a)].func == "trades.tasks.sync_shop_task"
    assert found[reconcile_name(shop_a)].schedule_type == Schedule.DAILY

    actions.set_interval(shop_a, 5)
    assert schedules_of(shop_a)[sync_name(shop_a)].minutes == 5
    actions.set_degraded(shop_a, True)
    assert schedules_of(shop_a)[sync_name(shop_a)].minutes == 30
    actions.pause_shop(shop_a)
    assert schedules_of(shop_a) == {}
    actions.resume_shop(shop_a)
    assert len(schedules_of(shop_a)) == 2


def record(shop: Shop, *outcomes: str) -> None:
    for outcome in outcomes:
        SyncRun.objects.create(shop=shop, stream="trades", kind="incremental", outcome=outcome)


def test_failure_rate_degrades_and_successes_restore(shop_a, settings):
    settings.SYNC_DEGRADE_FAILURE_RATE = 0.3
    settings.SYNC_RECOVER_AFTER_SUCCESSES = 5
    record(shop_a, "succeeded", "succeeded", "failed", "failed", "skipped")
    evaluate_health(shop_a)
    shop_a.refresh_from_db()
    assert not shop_a.degraded  # four finished runs are too few to judge
    record(shop_a, "failed")
    evaluate_health(shop_a)
    shop_a.refresh_from_db()
    assert shop_a.degraded

    record(shop_a, *["succeeded"] * 4)
    evaluate_health(shop_a)
    shop_a.refresh_from_db()
    assert shop_a.degraded  # four successes in a row are not yet enough
    record(shop_a, "succeeded")
    evaluate_health(shop_a)
    shop_a.refresh_from_db()
    assert not shop_a.degraded


def test_interval_follows_volume():
    assert auto_interval(0) == 30
    assert auto_interval(10) == 10  # a quiet shop: every 10 minutes
    assert auto_interval(1500) == 2
    assert auto_interval(100000) == 1


def test_a_deleted_shop_or_tenant_takes_its_schedules_along(shop_a, shop_b):
    sync_schedules(shop_a)
    sync_schedules(shop_b)
    Shop.objects.filter(pk=shop_a.pk).delete()  # not through the admin
    assert schedules_of(shop_a) == {}
    shop_b.tenant.delete()  # the tenant's cascade
    assert schedules_of(shop_b) == {}


def test_the_reconcile_schedule_follows_a_changed_hour(shop_a, settings):
    from ordersync.taobao.types import PLATFORM_TZ

    settings.RECONCILE_HOUR = 3
    sync_schedules(shop_a)
    first = schedules_of(shop_a)[reconcile_name(shop_a)].next_run
    assert first.astimezone(PLATFORM_TZ).hour == 3
    sync_schedules(shop_a)
    assert schedules_of(shop_a)[reconcile_name(shop_a)].next_run == first  # unchanged: kept
    settings.RECONCILE_HOUR = 5
    sync_schedules(shop_a)
    moved = schedules_of(shop_a)[reconcile_name(shop_a)].next_run.astimezone(PLATFORM_TZ)
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
    assert schedules_of(shop_a)[sync_name(shop_a)].minutes == UNMEASURED_MINUTES == 1


def test_after_its_backfill_a_busy_shop_runs_at_the_cadence_of_its_volume(shop_a):
    """900 trades changed in the last hour, all written by the backfill (or TMC): the sync run
    after it writes nothing new, and the shop is still a busy one."""
    now = timezone.now()
    _trades_modified(shop_a, 900, timedelta(minutes=59), now)
    _backfill(shop_a, finished=False)
    sync_schedules(shop_a)
    record_success(shop_a, now)  # a run during the backfill: the volume is not known yet
    shop_a.refresh_from_db()
    assert schedules_of(shop_a)[sync_name(shop_a)].minutes == UNMEASURED_MINUTES

    _backfill(shop_a, finished=True)
    SyncRun.objects.create(
        shop=shop_a, stream="trades", kind="incremental", outcome="succeeded", trades_written=0
    )
    record_success(shop_a, now)
    shop_a.refresh_from_db()
    assert shop_a.interval_minutes == auto_interval(900) == 3
    assert schedules_of(shop_a)[sync_name(shop_a)].minutes == 3


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
