"""The app's API budget is shared fairly between shops on the engine's own call paths."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ordersync.taobao.store import close_state_connection
from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance
from trades.sync.incremental import sync_shop

pytestmark = [pytest.mark.e2e, pytest.mark.alone, pytest.mark.django_db(transaction=True)]


def test_an_idle_shop_is_served_while_a_busy_shop_saturates_the_budget(
    make_shop, gateway, sandbox_app, settings
):
    settings.SYNC_LAG_SECONDS = 1
    settings.SYNC_FULLINFO_CONCURRENCY = 8  # eight threads of the busy shop wait for tokens
    budget = 180  # a burst of 9, then 2.85 calls a second
    sandbox_app.calls_per_minute = budget
    sandbox_app.save()
    busy, idle = make_shop("busy-shop"), make_shop("idle-shop")
    start = timezone.now() - timedelta(minutes=5)
    Checkpoint.objects.filter(shop__in=[busy, idle], stream="trades").update(cursor=start)
    gateway.control("market", {"nick": "busy-shop", "burst": 60})
    gateway.faults(peak_mode=True)  # lists lack orders: one fullinfo call per busy trade
    advance(gateway, settings.SYNC_LAG_SECONDS + 1)
    sync_shop(idle, "trades")  # the platform clock is measured before the busy shop starts

    busy_runs = []

    def run_busy() -> None:
        try:
            busy_runs.append(sync_shop(busy, "trades"))
        finally:
            close_state_connection()  # the limiter's connection of this thread
            connection.close()

    thread = threading.Thread(target=run_busy)
    thread.start()
    time.sleep(3)  # the burst is spent: from now on every token is fought over
    durations = []
    for _ in range(5):
        Checkpoint.objects.filter(shop=idle, stream="trades").update(
            cursor=timezone.now() - timedelta(minutes=1)
        )
        began = time.monotonic()
        run = sync_shop(idle, "trades")
        durations.append(time.monotonic() - began)
        assert run.outcome == SyncRun.Outcome.SUCCEEDED and run.api_calls == 1
        time.sleep(0.3)
    still_busy = thread.is_alive()
    thread.join()

    assert still_busy, "the busy shop must still saturate the budget while the idle one runs"
    assert busy_runs[0].outcome == SyncRun.Outcome.SUCCEEDED and busy_runs[0].api_calls > 60
    # A token comes every 0.35 s. Served in turn, the idle shop's one call waits for about
    # one token; queued behind the busy shop's eight threads it would wait ~2.8 s.
    assert max(durations) < 1.2, durations
