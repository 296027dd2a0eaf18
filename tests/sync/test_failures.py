"""What failures do to the next window: narrower after a death or a failure, bounded in time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance
from trades.models import Trade
from trades.sync.incremental import sync_shop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("previous", ["died", "failed"])
def test_a_stream_whose_last_run_died_or_failed_reads_a_narrower_window(
    previous, make_shop, gateway, settings
):
    settings.SYNC_LAG_SECONDS = 60
    settings.TOP_MAX_ATTEMPTS = 1
    shop = make_shop(f"narrow-{previous}")
    # 1,000 s to read: one window at the stored 1,800 s width, two at half of it
    cursor = timezone.now() - timedelta(seconds=settings.SYNC_LAG_SECONDS + 1000)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(
        cursor=cursor, progress={"window_seconds": 1800}
    )
    if previous == "died":
        # a worker that was killed mid-run left its run "running" (and its lock went)
        lost = SyncRun.objects.create(
            shop=shop, stream="trades", kind=SyncRun.Kind.INCREMENTAL, worker="gone:1"
        )
    else:
        gateway.faults(isp_rate=1.0)
        failed = sync_shop(shop, "trades")
        assert failed.outcome == SyncRun.Outcome.FAILED and failed.error_class == "Transient"
        gateway.faults(isp_rate=0.0)
        Checkpoint.objects.filter(shop=shop, stream="trades").update(next_run_at=None)

    run = sync_shop(shop, "trades")

    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert run.pages == 2 and run.api_calls == 2  # two windows of 900 s, one page each
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert checkpoint.cursor > cursor
    if previous == "died":
        lost.refresh_from_db()
        assert lost.outcome == SyncRun.Outcome.FAILED and lost.error_class == "WorkerLost"


def test_a_stream_with_nothing_wrong_keeps_its_width(make_shop, settings):
    settings.SYNC_LAG_SECONDS = 60
    shop = make_shop("narrow-none")
    cursor = timezone.now() - timedelta(seconds=settings.SYNC_LAG_SECONDS + 1000)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(
        cursor=cursor, progress={"window_seconds": 1800}
    )
    run = sync_shop(shop, "trades")
    assert run.outcome == SyncRun.Outcome.SUCCEEDED and run.pages == 1


@pytest.mark.e2e
def test_a_window_that_runs_out_of_time_keeps_its_writes_and_is_read_narrower(
    make_shop, gateway, settings
):
    settings.SYNC_LAG_SECONDS = 2
    settings.SYNC_PAGE_SIZE = 50
    settings.SYNC_WINDOW_TIME_LIMIT = 1
    shop = make_shop("overrun")
    start = timezone.now() - timedelta(minutes=10)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(cursor=start)
    gateway.control("market", {"nick": "overrun", "burst": 250})
    advance(gateway, settings.SYNC_LAG_SECONDS + 1)
    gateway.faults(slow_rate=1.0, slow_seconds=0.6)  # a window of 6 calls takes 3.6 s

    run = sync_shop(shop, "trades")

    gateway.faults(slow_rate=0.0)
    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert checkpoint.progress["overruns"] >= 1  # a window ran out of time and was narrowed
    assert checkpoint.cursor > start
    assert Trade.objects.filter(shop=shop).count() == 250


def test_one_scheduled_sync_shares_its_time_between_streams_and_each_gets_a_window(
    make_shop, settings
):
    from trades.tasks import sync_shop_task

    settings.SYNC_LAG_SECONDS = 60
    settings.SYNC_RUN_TIME_LIMIT = 0  # the task's budget is spent at once
    shop = make_shop("budgeted")
    cursor = timezone.now() - timedelta(hours=3)  # several windows of 1,800 s behind
    Checkpoint.objects.filter(shop=shop, stream__in=["trades", "refunds"]).update(
        cursor=cursor, progress={"window_seconds": 1800}
    )

    assert sync_shop_task(shop.pk)[:2] == ["trades: succeeded", "refunds: succeeded"]

    for stream in ("trades", "refunds"):  # one window each, then the next task goes on
        moved = Checkpoint.objects.get(shop=shop, stream=stream).cursor - cursor
        assert timedelta(seconds=1) < moved <= timedelta(seconds=1800), (stream, moved)
