"""Incremental sync of one shop stream by modified time, under the no-loss rules.

The locks: a run first takes the stream's run lock (a session-level advisory lock keyed by
the checkpoint row, see ``trades.sync.locks``) and holds it until it ends, so a duplicate
task leaves at once and two runs of one stream never overlap, not even between windows.
Then each window runs in one transaction that starts by locking the checkpoint row
(``SELECT … FOR UPDATE SKIP LOCKED``). The window's pages are fetched and written inside that
transaction and the cursor moves in it too, so the cursor can never pass a write that did
not commit, and a killed worker's locks and half-written window vanish with its connection.
The window transaction therefore spans the window's HTTP calls; windows are bounded in rows
(≤ ``SYNC_SPLIT_THRESHOLD``) and in time (``SYNC_WINDOW_TIME_LIMIT``: a window that runs
over commits what it wrote, keeps the cursor and is read again narrower), and a run stops
starting windows after ``SYNC_RUN_TIME_LIMIT``, well inside ``Q_TIMEOUT``.
"""

from __future__ import annotations

import enum
import time
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from shops.models import Checkpoint, Shop, SyncRun
from shops.top import client_for_shop
from trades.sync import locks, runs
from trades.sync.poison import SetAside
from trades.sync.reading import WindowOverrun, WindowTooLarge, complete_trades, read_backward
from trades.sync.streams import STREAMS, TRADE_FIELDS, Stream
from trades.sync.windows import MIN_WIDTH, Window, narrower, next_window, wider
from trades.sync.write import stored_whole

MAX_WINDOWS_PER_RUN = 500


class Step(enum.Enum):
    CAUGHT_UP = "caught up"
    MORE = "more to read"


def sync_shop(
    shop: Shop,
    stream: str = "trades",
    *,
    client: TopClient | None = None,
    stop_at: float | None = None,
) -> SyncRun:
    """Read the stream's windows up to ``now − lag``; return the run (its outcome says how).

    No window starts after ``stop_at`` (``time.monotonic()``; by default
    ``SYNC_RUN_TIME_LIMIT`` from now) except the first, so every stream makes progress.
    """
    spec = STREAMS[stream]
    checkpoint, _ = Checkpoint.objects.get_or_create(shop=shop, stream=stream)
    with locks.run_lock(checkpoint.pk) as taken:
        if not taken:
            return runs.skip_run(shop, stream, SyncRun.Kind.INCREMENTAL)
        lost = runs.close_lost_runs(shop, stream, SyncRun.Kind.INCREMENTAL)
        if lost:
            runs.record_failure(shop, stream, runs.WorkerLost(f"{lost} run(s) lost their worker"))
        stop_at = stop_at or time.monotonic() + settings.SYNC_RUN_TIME_LIMIT
        return _run(shop, spec, client_for_shop(shop, client), stop_at)


def _run(shop: Shop, spec: Stream, client: TopClient, stop_at: float) -> SyncRun:
    run = runs.start_run(shop, spec.name, SyncRun.Kind.INCREMENTAL)
    counters = runs.Counters()
    calls_before = client.calls
    try:
        for _ in range(MAX_WINDOWS_PER_RUN):
            step = _sync_window(shop, spec, client, run, counters)
            if step is not Step.MORE or time.monotonic() > stop_at:
                break  # caught up, or the run has had its time: the next one goes on
    except Exception as error:
        counters.api_calls = client.calls - calls_before
        runs.finish_run(run, counters, SyncRun.Outcome.FAILED, error)
        runs.record_failure(shop, spec.name, error)
        return run
    counters.api_calls = client.calls - calls_before
    runs.finish_run(run, counters, SyncRun.Outcome.SUCCEEDED)
    runs.record_success(shop)
    return run


def window_limit(shop: Shop) -> timedelta:
    seconds = (
        settings.SYNC_DEGRADED_WINDOW_SECONDS
        if shop.degraded
        else (settings.SYNC_MAX_WINDOW_SECONDS)
    )
    return timedelta(seconds=seconds)


@transaction.atomic
def _sync_window(
    shop: Shop, spec: Stream, client: TopClient, run: SyncRun, counters: runs.Counters
) -> Step:
    checkpoint = (
        Checkpoint.objects.select_for_update(skip_locked=True)
        .filter(shop=shop, stream=spec.name)
        .first()
    )
    if checkpoint is None:
        # Only short writers outside the run lock (a backfill setting the first cursor, a
        # reconcile clearing set-aside trades) hold the row: the next run goes on.
        return Step.CAUGHT_UP
    now = client.clock.now()
    overlap = timedelta(seconds=settings.SYNC_OVERLAP_SECONDS)
    lag = timedelta(seconds=settings.SYNC_LAG_SECONDS)
    limit = window_limit(shop)
    width = min(limit, timedelta(seconds=checkpoint.progress.get("window_seconds", 1e9)))
    # A stream without a cursor (no backfill yet) starts at the present.
    cursor = checkpoint.cursor or (now - lag)
    window = next_window(cursor, now, overlap=overlap, lag=lag, width=width)
    if window is None:
        _advance(checkpoint, cursor, width)
        return Step.CAUGHT_UP
    run.window_start = run.window_start or window.start
    run.window_end = window.end
    set_aside = SetAside.of(checkpoint)
    # A window of the narrowest width is read whole however long it takes: it must pass.
    deadline = None if width <= MIN_WIDTH else time.monotonic() + settings.SYNC_WINDOW_TIME_LIMIT
    try:
        rows, split = read_split(shop, spec, client, window, counters, deadline, set_aside)
    except WindowOverrun:
        # What was written commits (writes are idempotent and monotonic); the cursor stays
        # and the window is read again, narrower.
        _keep(checkpoint, narrower(width))
        return Step.MORE
    quiet = rows < settings.SYNC_SPLIT_THRESHOLD // 10
    width = narrower(width) if split else wider(width, limit) if quiet else width
    set_aside.save_on(checkpoint)
    counters.set_aside += set_aside.entries()
    _advance(checkpoint, window.end, width)
    return Step.MORE if window.end < now - lag - timedelta(seconds=1) else Step.CAUGHT_UP


def read_split(
    shop: Shop,
    spec: Stream,
    client: TopClient,
    window: Window,
    counters: runs.Counters,
    deadline: float | None = None,
    set_aside: SetAside | None = None,
) -> tuple[int, bool]:
    """Read a window, in halves while a part holds more than ``SYNC_SPLIT_THRESHOLD`` rows.

    Return the rows read and whether the window had to be split. A part one second wide
    cannot be split further and is read whole, however many rows it holds.
    """
    threshold = settings.SYNC_SPLIT_THRESHOLD
    if window.end - window.start <= timedelta(seconds=1):
        threshold = 10**9
    try:
        rows = read_window(shop, spec, client, window, counters, threshold, deadline, set_aside)
        return rows, False
    except WindowTooLarge:
        halves = window.halves()
        rows = sum(
            read_split(shop, spec, client, h, counters, deadline, set_aside)[0] for h in halves
        )
        return rows, True


def read_window(
    shop: Shop,
    spec: Stream,
    client: TopClient,
    window: Window,
    counters: runs.Counters,
    split_threshold: int | None = None,
    deadline: float | None = None,
    set_aside: SetAside | None = None,
) -> int:
    """Read one window from its last page to its first and write every page; return rows.

    Past ``deadline`` (``time.monotonic()``), raise WindowOverrun after the page written.
    With ``set_aside``, poison records are set aside instead of failing the window."""
    fetch = partial(
        spec.list_modified,
        client,
        shop.session_key,
        start_modified=window.start,
        end_modified=window.end,
        fields=spec.fields,
        page_size=settings.SYNC_PAGE_SIZE,
        **({"type": ",".join(settings.SYNC_TRADE_TYPES)} if spec.needs_orders else {}),
    )
    rows = 0
    pages = read_backward(
        lambda page_no, start, size: fetch(page_no=page_no, start_modified=start, page_size=size),
        start=window.start,
        by_modified=spec.sorted_by_modified,
        page_size=settings.SYNC_PAGE_SIZE,
        split_threshold=split_threshold or settings.SYNC_SPLIT_THRESHOLD,
    )
    for items in pages:
        if set_aside is not None:
            items = set_aside.drop_malformed(items, spec.key)
        if spec.needs_orders:
            items = complete_page(shop, client, items, set_aside)
        result = spec.write(shop, items, client=client)  # it settles same-second conflicts
        rows += len(items)
        counters.pages += 1
        counters.trades_seen += result.seen
        counters.trades_written += result.written
        if deadline is not None and time.monotonic() > deadline:
            raise WindowOverrun(f"window {window.start} – {window.end} ran out of time")
    return rows


def complete_page(
    shop: Shop, client: TopClient, items: list[dict], set_aside: SetAside | None
) -> list[dict]:
    """Trades of a page completed with ``fullinfo`` where the list entry lacks ``orders``
    (and the version it shows is not stored whole already)."""
    stored = partial(stored_whole, shop)
    if set_aside is None:
        return complete_trades(items, fullinfo_fetcher(shop, client), fan_out(shop), stored=stored)
    not_found: list[int] = []
    fetch = fullinfo_fetcher(shop, client)
    items = complete_trades(items, fetch, fan_out(shop), not_found=not_found, stored=stored)
    set_aside.take_not_found(not_found)
    return items


def fan_out(shop: Shop) -> int:
    """How many ``trade.fullinfo.get`` calls run at once; one at a time when degraded."""
    return 1 if shop.degraded else settings.SYNC_FULLINFO_CONCURRENCY


def fullinfo_fetcher(shop: Shop, client: TopClient):
    def fetch(tid: int) -> dict:
        return api.trade_fullinfo_get(client, shop.session_key, tid, TRADE_FIELDS)

    return fetch


def _keep(checkpoint: Checkpoint, width: timedelta) -> None:
    """Keep the cursor; read the next window ``width`` wide."""
    overruns = checkpoint.progress.get("overruns", 0) + 1  # shown on the shop's checkpoint
    checkpoint.progress = {
        **checkpoint.progress,
        "window_seconds": int(width.total_seconds()),
        "overruns": overruns,
    }
    checkpoint.save(update_fields=["progress"])


def _advance(checkpoint: Checkpoint, cursor, width: timedelta) -> None:
    from django.utils import timezone

    checkpoint.cursor = cursor
    checkpoint.last_success_at = timezone.now()
    checkpoint.last_error = ""
    checkpoint.consecutive_failures = 0
    checkpoint.next_run_at = None
    checkpoint.progress = {**checkpoint.progress, "window_seconds": int(width.total_seconds())}
    checkpoint.save()
