"""One worker per shop stream, proven with two real processes."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection as thread_connection
from django.utils import timezone

from ordersync.taobao.store import close_state_connection
from shops.models import Checkpoint, SyncRun
from tests.support.processes import manage
from trades.sync.incremental import sync_shop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.e2e  # two real processes
def test_two_workers_on_one_shop_stream_one_runs_one_leaves(make_shop, gateway):
    shop = make_shop("busy", history_trades=50, history_days=1)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(
        cursor=timezone.now() - timedelta(hours=2)
    )
    gateway.faults(slow_rate=1.0, slow_seconds=1.0)  # every call takes a second: runs would overlap

    workers = [manage("sync_shop", str(shop.pk), "--stream", "trades") for _ in range(2)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    runs = list(SyncRun.objects.filter(shop=shop, stream="trades").order_by("started_at"))
    assert sorted(run.outcome for run in runs) == ["skipped", "succeeded"], outputs
    ran = next(run for run in runs if run.outcome == "succeeded")
    left = next(run for run in runs if run.outcome == "skipped")
    assert left.api_calls == 0
    # it left while the other ran: the runner stamps its start just after it takes the lock,
    # so the one that found the lock held may finish a moment before that stamp
    assert ran.started_at - timedelta(seconds=1) <= left.finished_at <= ran.finished_at
    assert Checkpoint.objects.get(shop=shop, stream="trades").cursor > timezone.now() - timedelta(
        minutes=10
    )


def test_a_run_holds_its_stream_between_windows_so_runs_never_overlap(make_shop, gateway, settings):
    """A duplicate that keeps knocking never slips in between two windows of a run."""
    settings.SYNC_MAX_WINDOW_SECONDS = 60  # thirty windows, each its own transaction
    settings.SYNC_LAG_SECONDS = 1
    shop = make_shop("knock", history_trades=0)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(
        cursor=timezone.now() - timedelta(minutes=30)
    )
    gateway.faults(slow_rate=1.0, slow_seconds=0.1)
    done = threading.Event()

    def first() -> None:
        try:
            sync_shop(shop, "trades")
        finally:
            done.set()
            close_state_connection()
            thread_connection.close()

    def duplicate() -> None:
        try:
            while not done.is_set():
                sync_shop(shop, "trades")
        finally:
            close_state_connection()
            thread_connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=duplicate)]
    threads[0].start()
    time.sleep(0.3)
    threads[1].start()
    for thread in threads:
        thread.join(timeout=120)

    runs = list(SyncRun.objects.filter(shop=shop, stream="trades").order_by("started_at"))
    ran = [run for run in runs if run.outcome != "skipped"]
    assert all(run.outcome == "succeeded" for run in ran), [r.error_message for r in ran]
    assert sum(run.outcome == "skipped" for run in runs) >= 10  # the duplicate kept knocking
    assert ran[0].pages >= 25  # the first run read every window itself
    for earlier, later in zip(ran, ran[1:], strict=False):
        assert earlier.finished_at <= later.started_at, "two runs of one stream overlapped"
