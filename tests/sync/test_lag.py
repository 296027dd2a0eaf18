"""Lag that outgrows the settings loses nothing: incrementv.get where the app may call it, else
late arrivals found (overlap, sweep, TMC), measured, and widening lag and overlap."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from ordersync.taobao import api
from shops.models import Checkpoint, Shop, SyncRun, TopApp
from shops.top import client_for_shop
from tests.support.clock import advance
from tests.support.processes import manage
from trades.feed.changes import Change
from trades.models import Trade
from trades.sync import late
from trades.sync.fields import TRADE_FIELDS
from trades.sync.incremental import INCREMENTV, _cursor, sync_shop
from trades.sync.write import write_trades

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tight(settings):
    """Lag and overlap of a second each: a change 5 s late is beyond both."""
    settings.SYNC_LAG_SECONDS = 1
    settings.SYNC_OVERLAP_SECONDS = 1
    settings.SYNC_SWEEP_SECONDS = 60
    settings.SYNC_SWEEP_PERIOD_SECONDS = 0
    settings.TOP_BACKOFF_CAP = 0.2
    return settings


def deny_incrementv(gateway, app: TopApp) -> None:
    gateway.control(
        "apps",
        {
            "app_key": app.app_key,
            "app_secret": "s3cret",
            "calls_per_minute": 0,
            "denied_methods": [INCREMENTV],
        },
    )


def late_trade(gateway, shop: Shop, lag: int) -> int:
    """Make one new trade that becomes visible in the lists ``lag`` seconds after it was
    created, and one that is visible at once; return the late one's tid."""
    before = set(gateway.oracle_trades(shop.seller_nick))
    gateway.faults(lag_seconds=lag)
    gateway.control("market", {"nick": shop.seller_nick, "burst": 1})
    gateway.faults(lag_seconds=0)
    (tid,) = set(gateway.oracle_trades(shop.seller_nick)) - before
    gateway.control("market", {"nick": shop.seller_nick, "burst": 1})
    return tid


def sync_until(gateway, shop: Shop, seconds: float, done=lambda: False) -> list[SyncRun]:
    """Run the trade stream until ``done()``, platform time moving on by 0.3 s a run, for
    at most ``seconds`` of platform time."""
    runs, moved = [], 0.0
    while moved < seconds and not done():
        runs.append(sync_shop(shop, "trades"))
        Checkpoint.objects.filter(shop=shop).update(next_run_at=None)
        advance(gateway, 0.3)
        moved += 0.3
    return runs


def stored(shop: Shop, tid: int):
    return lambda: Trade.objects.filter(shop=shop, tid=tid).exists()


def test_a_refused_incrementv_is_remembered_and_a_late_change_is_swept_and_measured(
    make_shop, gateway, tight, client
):
    shop = make_shop("refused")
    deny_incrementv(gateway, shop.app)
    sync_shop(shop, "trades")  # the cursor starts at the present
    tid = late_trade(gateway, shop, lag=5)

    runs = sync_until(gateway, shop, 12, stored(shop, tid))

    assert Trade.objects.filter(shop=shop, tid=tid).exists()
    assert TopApp.objects.get(pk=shop.app_id).incrementv_denied_at is not None
    assert sum("refused" in note for r in runs for note in r.notes) == 1
    # the refusal was detected once: every later window ran on increment.get
    assert gateway.control("stats")["calls"][INCREMENTV]["app-1"] == 1
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert checkpoint.progress["source"] == "modified"
    assert checkpoint.late_arrivals == 1 and sum(r.late_arrivals for r in runs) == 1
    assert any("swept" in note for r in runs for note in r.notes)
    # it was not visible 1 s (lag) + its distance behind the passed end after it changed
    assert 3 <= checkpoint.measured_lag_seconds <= 60
    lag, overlap = late.lag_and_overlap(checkpoint, late.MODIFIED)
    assert lag.total_seconds() >= 3 and overlap.total_seconds() >= 3  # both widened
    body = client.get("/metrics").content.decode()
    labels = (
        f'tenant="{shop.tenant.slug}",shop_id="{shop.pk}",shop="{shop.seller_nick}",stream="trades"'
    )
    assert f"ordersync_late_arrivals_total{{{labels}}} 1" in body
    assert f"ordersync_measured_lag_seconds{{{labels}}}" in body


def test_incrementv_windows_on_visibility_time_lose_no_late_change_without_a_sweep(
    make_shop, gateway, tight
):
    tight.SYNC_SWEEP_SECONDS = 0
    shop = make_shop("visible")
    sync_shop(shop, "trades")
    tid = late_trade(gateway, shop, lag=5)

    runs = sync_until(gateway, shop, 12, stored(shop, tid))

    assert Trade.objects.filter(shop=shop, tid=tid).exists()
    assert Checkpoint.objects.get(shop=shop, stream="trades").progress["source"] == (
        "async_modified"
    )
    assert sum(r.late_arrivals for r in runs) == 0  # nothing was late on visibility time
    calls = gateway.control("stats")["calls"]
    assert "taobao.trades.sold.increment.get" not in calls and calls[INCREMENTV]
    payload = Trade.objects.get(shop=shop, tid=tid).payload
    assert "async_modified" not in payload  # not part of the trade


def test_a_refusal_switches_a_visibility_time_cursor_back_by_the_sweep_span(
    make_shop, gateway, tight
):
    shop = make_shop("switched")
    sync_shop(shop, "trades")
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert checkpoint.progress["source"] == "async_modified"
    # a change visible after the cursor may have been modified up to the longest lag before
    assert _cursor(checkpoint, late.MODIFIED) == checkpoint.cursor - timedelta(seconds=60)
    assert _cursor(checkpoint, late.VISIBLE) == checkpoint.cursor
    deny_incrementv(gateway, shop.app)
    advance(gateway, 1.1)
    assert sync_shop(shop, "trades").outcome == SyncRun.Outcome.SUCCEEDED
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert checkpoint.progress["source"] == "modified"


def test_a_tmc_write_of_a_change_no_window_listed_counts_as_a_late_arrival(make_shop, gateway):
    shop = make_shop("pushed")
    sync_shop(shop, "refunds")
    cursor = timezone.now()
    Checkpoint.objects.filter(shop=shop).update(cursor=cursor, progress={"source": "modified"})
    passed = cursor - timedelta(seconds=40)
    changes = [
        Change("trade", 1, 11, "WAIT_SELLER_SEND_GOODS", None, passed),
        Change("trade", 2, 12, "WAIT_SELLER_SEND_GOODS", None, cursor + timedelta(seconds=5)),
        Change("refund", 3, 13, "SUCCESS", "WAIT_SELLER_AGREE", passed),
    ]

    assert late.note_pushed(shop, changes) == 2

    trades = Checkpoint.objects.get(shop=shop, stream="trades")
    assert trades.late_arrivals == 1
    assert trades.measured_lag_seconds >= 40 + 180  # SYNC_LAG_SECONDS + how far behind
    assert Checkpoint.objects.get(shop=shop, stream="refunds").late_arrivals == 1
    # on visibility time a change behind the cursor may simply not be visible yet
    Checkpoint.objects.filter(shop=shop, stream="trades").update(
        progress={"source": "async_modified"}
    )
    assert late.note_pushed(shop, changes[:1]) == 0


def test_the_tmc_consumer_counts_what_polling_passed_without_listing(make_shop, gateway, settings):
    from trades.tmc.consumer import Consumer

    settings.TMC_COLLAPSE_SECONDS = 0
    shop = make_shop("consumed")
    gateway.control("apps", {"app_key": "app-1", "app_secret": "s3cret", "calls_per_minute": 0})
    consumer = Consumer(shop.app)
    from trades.tmc.permits import permit_shops

    permit_shops(shop.app, consumer.client)
    future = timezone.now() + timedelta(minutes=10)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(
        cursor=future, progress={"source": "modified"}
    )
    gateway.control("market", {"nick": shop.seller_nick, "burst": 1})
    deadline = time.monotonic() + 10
    while not Trade.objects.filter(shop=shop).exists() and time.monotonic() < deadline:
        consumer.pull_once()
        time.sleep(0.2)
    assert Checkpoint.objects.get(shop=shop, stream="trades").late_arrivals == 1


def test_measured_lag_halves_every_half_life_and_widens_lag_and_overlap(shop_a, settings):
    settings.SYNC_LAG_SECONDS, settings.SYNC_OVERLAP_SECONDS = 60, 300
    settings.SYNC_LAG_HALF_LIFE_SECONDS = 3600
    checkpoint = Checkpoint(
        shop=shop_a,
        stream="trades",
        measured_lag_seconds=600,
        lag_measured_at=timezone.now() - timedelta(hours=1),
    )
    assert checkpoint.measured_lag() == pytest.approx(300, abs=1)
    lag, overlap = late.lag_and_overlap(checkpoint, late.MODIFIED)
    assert lag.total_seconds() == pytest.approx(300, abs=1)
    assert overlap.total_seconds() == pytest.approx(540, abs=1)
    # on visibility time: the lag of 2 s and the small overlap, widened the same way
    settings.SYNC_VISIBLE_OVERLAP_SECONDS = 5
    lag, overlap = late.lag_and_overlap(checkpoint, late.VISIBLE)
    assert lag.total_seconds() == pytest.approx(300, abs=1)
    assert overlap.total_seconds() == pytest.approx(303, abs=1)
    checkpoint.lag_measured_at = timezone.now() - timedelta(hours=10)
    assert late.lag_and_overlap(checkpoint, late.MODIFIED)[0].total_seconds() == 60


def test_a_window_holds_no_row_lock_across_its_http_calls(make_shop, gateway, settings):
    """A TMC-style write of a trade the window already wrote does not wait for the window's
    next HTTP call (a second real connection, with a lock timeout)."""
    settings.SYNC_LAG_SECONDS = 1
    settings.SYNC_PAGE_SIZE = 2
    shop = make_shop("unlocked")
    sync_shop(shop, "trades")
    gateway.control("market", {"nick": shop.seller_nick, "burst": 5})
    advance(gateway, 2.1)
    client = client_for_shop(shop)
    listed, written, release = [], threading.Event(), threading.Event()
    real_call = client.call

    def call(method, params, **kw):
        if method == INCREMENTV and params.get("page_no") not in (1, None) and listed:
            written.set()  # a page was fetched and written before this one
            release.wait(30)
        body = real_call(method, params, **kw)
        if method == INCREMENTV and params.get("page_no") not in (1, None):
            listed.extend(trade["tid"] for trade in body.get("trades") or [])
        return body

    client.call = call
    outcome = []

    def run():
        try:
            outcome.append(sync_shop(shop, "trades", client=client).outcome)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert written.wait(30)
        tid = listed[0]
        full = api.trade_fullinfo_get(client_for_shop(shop), shop.session_key, tid, TRADE_FIELDS)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            write_trades(shop, [full])  # raises LockNotAvailable if the window held the row
    finally:
        release.set()
        worker.join(60)
    assert outcome == [SyncRun.Outcome.SUCCEEDED]
    assert Trade.objects.filter(shop=shop).count() == 5


def _seven_behind(make_shop, gateway, settings, name: str) -> Shop:
    """A shop synced once, then 7 new trades, listed 2 a page, with every window that has a
    time limit overrunning it."""
    settings.SYNC_LAG_SECONDS = 1
    settings.SYNC_OVERLAP_SECONDS = settings.SYNC_VISIBLE_OVERLAP_SECONDS = 4
    settings.SYNC_PAGE_SIZE = 2
    settings.SYNC_WINDOW_TIME_LIMIT = 0
    shop = make_shop(name)
    sync_shop(shop, "trades")
    gateway.control("market", {"nick": shop.seller_nick, "burst": 7})
    advance(gateway, 2.1)
    return shop


def test_a_narrowest_window_is_read_whole_and_a_whole_read_that_died_is_read_in_parts(
    make_shop, gateway, settings
):
    """At the narrowest width the overlap alone can be the heavy part: such a window is read
    whole without a time limit, recorded first. If that read never finished (the worker was
    killed at Q_TIMEOUT), the window is not read whole again but in committed parts, each
    part's end recorded, halved while a part overruns; the runs say why."""
    shop = _seven_behind(make_shop, gateway, settings, "parted")
    narrowest = {"window_seconds": 60, "source": "async_modified"}
    Checkpoint.objects.filter(shop=shop, stream="trades").update(progress=narrowest)

    whole = sync_shop(shop, "trades")

    assert any("read whole without a time limit" in note for note in whole.notes), whole.notes
    assert Trade.objects.filter(shop=shop).count() == 7
    assert "whole" not in Checkpoint.objects.get(shop=shop, stream="trades").progress

    # as a worker killed in the middle of a whole read leaves it
    Trade.objects.filter(shop=shop).delete()
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    died = {"start": "2026-01-01 00:00:00", "end": "2026-01-01 00:01:00"}
    Checkpoint.objects.filter(pk=checkpoint.pk).update(
        cursor=checkpoint.cursor - timedelta(seconds=5), progress={**narrowest, "whole": died}
    )
    runs = sync_until(gateway, shop, 20, lambda: Trade.objects.filter(shop=shop).count() == 7)

    notes = [note for r in runs for note in r.notes]
    assert any("did not finish: read in committed parts" in note for note in notes), notes
    assert any("parts of" in note and "outlived" in note for note in notes), notes
    assert Trade.objects.filter(shop=shop).count() == 7
    assert all(r.outcome == SyncRun.Outcome.SUCCEEDED for r in runs)
    assert "parts" not in Checkpoint.objects.get(shop=shop, stream="trades").progress


def test_a_window_the_lag_cut_short_that_overruns_is_read_next_at_the_narrowest_width(
    make_shop, gateway, settings
):
    """A window that ran out of time is read again narrower than it was, not than its width
    setting: one that ``now − lag`` cut to a few seconds is read next at the narrowest width
    (whole), after one overrun, instead of listing the same rows again at widths it never
    had (1,800 s, 900 s, … as many overruns)."""
    shop = _seven_behind(make_shop, gateway, settings, "cut-short")
    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    progress = {**checkpoint.progress, "window_seconds": 1800}
    Checkpoint.objects.filter(pk=checkpoint.pk).update(progress=progress)

    run = sync_shop(shop, "trades")

    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert any("outlived 0 s: read again 60 s wide" in note for note in run.notes), run.notes
    assert Checkpoint.objects.get(pk=checkpoint.pk).progress["overruns"] == 1
    assert Trade.objects.filter(shop=shop).count() == 7


def test_a_worker_killed_while_reading_a_narrowest_window_whole_leaves_it_to_parts(
    make_shop, gateway, settings
):
    """A real worker process is SIGKILLed in the middle of a whole read (as ``Q_TIMEOUT``
    does): the next run does not read that window whole again, but in committed parts."""
    import os
    import signal

    settings.SYNC_LAG_SECONDS = 1
    settings.SYNC_OVERLAP_SECONDS = settings.SYNC_VISIBLE_OVERLAP_SECONDS = 4
    settings.SYNC_PAGE_SIZE = 2
    shop = make_shop("killed")
    sync_shop(shop, "trades")
    gateway.control("market", {"nick": shop.seller_nick, "burst": 7})
    advance(gateway, 2.1)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(
        progress={"window_seconds": 60, "source": "async_modified"}
    )
    gateway.faults(slow_rate=1.0, slow_seconds=1.0)  # a whole read of 5 pages takes 6 s
    os.environ.update(
        SYNC_LAG_SECONDS="1",
        SYNC_OVERLAP_SECONDS="4",
        SYNC_VISIBLE_OVERLAP_SECONDS="4",
        SYNC_PAGE_SIZE="2",
    )
    try:
        worker = manage("sync_shop", str(shop.pk), "--stream", "trades")
    finally:
        for name in (
            "SYNC_LAG_SECONDS",
            "SYNC_OVERLAP_SECONDS",
            "SYNC_VISIBLE_OVERLAP_SECONDS",
            "SYNC_PAGE_SIZE",
        ):
            os.environ.pop(name)
    deadline = time.monotonic() + 30
    while "whole" not in Checkpoint.objects.get(shop=shop, stream="trades").progress:
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.1)
    time.sleep(1.5)  # inside the read
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    gateway.faults(slow_rate=0.0)

    runs = sync_until(gateway, shop, 20, lambda: Trade.objects.filter(shop=shop).count() == 7)

    notes = [note for r in runs for note in r.notes]
    assert any("did not finish: read in committed parts" in note for note in notes), notes
    assert Trade.objects.filter(shop=shop).count() == 7
    lost = SyncRun.objects.filter(shop=shop, error_class="WorkerLost")
    assert lost.count() == 1  # the killed run, found by the next one


def test_a_fresh_change_is_stored_at_once_although_the_measured_lag_widened_the_windows(
    make_shop, gateway, tight
):
    """Windows widened by a measured lag trail now by it; a change listed with the usual lag
    is read ahead of the cursor by the next run all the same, and the cursor stays with the
    windows (they find the late arrivals)."""
    tight.SYNC_INCREMENTV = False
    shop = make_shop("ahead")
    sync_shop(shop, "trades")  # the cursor starts at the present
    Checkpoint.objects.filter(shop=shop, stream="trades").update(
        measured_lag_seconds=40, lag_measured_at=timezone.now()
    )
    gateway.faults(lag_seconds=0)
    before = set(gateway.oracle_trades(shop.seller_nick))
    gateway.control("market", {"nick": shop.seller_nick, "burst": 1})
    (tid,) = set(gateway.oracle_trades(shop.seller_nick)) - before
    advance(gateway, tight.SYNC_LAG_SECONDS + 1)

    run = sync_shop(shop, "trades")

    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    trade = Trade.objects.get(shop=shop, tid=tid)
    assert any("ahead of the cursor" in note for note in run.notes)
    # the windows still trail by the measured lag: the cursor is behind the change
    assert Checkpoint.objects.get(shop=shop, stream="trades").cursor < trade.modified
