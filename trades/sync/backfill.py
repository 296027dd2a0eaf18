"""Backfill: a shop's last ``BACKFILL_DAYS`` of trades by created time, and of refunds.

``created`` never changes, so trade slices are read forward with ``use_has_next`` (no count
on every page). Slices are a day wide, halved while one holds more than
``SYNC_SPLIT_THRESHOLD`` trades or times out. Each slice is one transaction holding the
backfill checkpoint's lock; its end is recorded in that transaction, so a restart resumes at
the first slice not yet written. The incremental cursors start where the backfill began,
minus the overlap, so nothing modified while the backfill runs is missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from itertools import chain
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.types import format_time, parse_time, require_time
from shops.models import SYNCED_STREAMS, Checkpoint, Shop, SyncRun
from shops.top import client_for_shop
from trades.sync import locks, runs
from trades.sync.fields import TRADE_FIELDS
from trades.sync.incremental import complete_page, read_window, unchanged
from trades.sync.poison import REFUND_SET_ASIDE, SetAside
from trades.sync.reading import WindowTooLarge, prefetched, read_forward
from trades.sync.streams import REFUNDS, TRADES
from trades.sync.windows import Window, narrower
from trades.sync.write import write_trades

DAY = timedelta(days=1)
# Trades per write: ten pages in one upsert (and one change-feed insert) instead of ten; the
# per-statement cost, not the rows, dominated a page's write. A slice is one transaction
# either way.
WRITE_BATCH = 1000


@dataclass(frozen=True)
class Progress:
    """What a progress bar shows: platform time covered out of the whole span."""

    stage: str  # "trades" | "refunds"
    done_seconds: float
    total_seconds: float
    trades_written: int
    slices: int = 0  # slices of this stage written by this run


OnProgress = Callable[[Progress], None] | None


class Locked(Exception):
    """Another worker is running this shop's backfill."""


def backfill_shop(
    shop: Shop,
    days: int | None = None,
    *,
    client: TopClient | None = None,
    on_progress: OnProgress = None,
    time_limit: float | None = None,
) -> SyncRun:
    """Backfill (or resume the unfinished backfill of) ``shop``; return the run.

    With ``time_limit`` (seconds), the run stops after the first slice that ends past it,
    and succeeds; the scheduled sync queues the rest (``trades.tasks.resume_unfinished``).
    Workers pass ``SYNC_RUN_TIME_LIMIT`` so a long backfill is never killed by ``Q_TIMEOUT``.
    """
    for stream in SYNCED_STREAMS:
        Checkpoint.objects.get_or_create(shop=shop, stream=stream)
    checkpoint = Checkpoint.objects.get(shop=shop, stream=Checkpoint.Stream.BACKFILL)
    with locks.run_lock(checkpoint.pk) as taken:
        if not taken:
            return runs.skip_run(shop, Checkpoint.Stream.BACKFILL, SyncRun.Kind.BACKFILL)
        lost = runs.close_lost_runs(shop, Checkpoint.Stream.BACKFILL, SyncRun.Kind.BACKFILL)
        if lost:
            error = runs.WorkerLost(f"{lost} backfill run(s) lost their worker")
            runs.record_failure(shop, Checkpoint.Stream.BACKFILL, error)
        on_progress = _with_time_limit(on_progress, time_limit)
        return _run(shop, days, client_for_shop(shop, client), on_progress)


class Paused(Exception):
    """The run has had its time; the backfill goes on in a later run."""


def _with_time_limit(on_progress: OnProgress, time_limit: float | None) -> OnProgress:
    if time_limit is None:
        return on_progress
    stop_at = time.monotonic() + time_limit

    def report(progress: Progress) -> None:
        if on_progress is not None:
            on_progress(progress)
        if time.monotonic() > stop_at:
            raise Paused(f"stopped after {time_limit:.0f}s; the next run resumes here")
        if runs.pause_requested():
            raise Paused("asked to pause; the next run resumes here")

    return report


def _run(shop: Shop, days: int | None, client: TopClient, on_progress: OnProgress) -> SyncRun:
    run = runs.start_run(shop, Checkpoint.Stream.BACKFILL, SyncRun.Kind.BACKFILL)
    counters = runs.Counters()
    calls = runs.CallMeter(client)
    try:
        state = _begin(shop, client, days or settings.BACKFILL_DAYS)
        run.window_start, run.window_end = parse_time(state["from"]), parse_time(state["until"])
        _backfill_trades(shop, client, counters, on_progress)
        _backfill_refunds(shop, client, counters, on_progress)
        _finish(shop)
        runs.follow_volume(shop, client.clock.now())  # backfill and runs alike wrote it
    except Locked:
        calls.settle(counters)
        return runs.finish_run(run, counters, SyncRun.Outcome.SKIPPED)
    except Paused:
        pass  # every slice so far is recorded: a success, with more to do
    except Exception as error:
        calls.settle(counters)
        runs.finish_run(run, counters, SyncRun.Outcome.FAILED, error)
        runs.record_failure(shop, Checkpoint.Stream.BACKFILL, error)
        return run
    calls.settle(counters)
    return runs.finish_run(run, counters, SyncRun.Outcome.SUCCEEDED)


def _lock(shop: Shop) -> Checkpoint:
    checkpoint = (
        Checkpoint.objects.select_for_update(skip_locked=True)
        .filter(shop=shop, stream=Checkpoint.Stream.BACKFILL)
        .first()
    )
    if checkpoint is None:
        raise Locked(f"the backfill of shop {shop.pk} is running elsewhere")
    return checkpoint


@transaction.atomic
def _begin(shop: Shop, client: TopClient, days: int) -> dict[str, Any]:
    """Start a new backfill unless one is unfinished; return its state."""
    checkpoint = _lock(shop)
    state: dict[str, Any] = checkpoint.progress
    if state.get("until") and not state.get("finished_at"):
        return state  # resume
    now = client.clock.now().replace(microsecond=0)
    begin = now - timedelta(days=days)
    state = {
        "from": format_time(begin),
        "until": format_time(now),
        "trades_done_until": format_time(begin),
        "refunds_done_until": format_time(begin),
        "slice_seconds": int(DAY.total_seconds()),
    }
    checkpoint.progress = state
    checkpoint.save(update_fields=["progress"])
    start_cursors(shop, now)
    return state


def start_cursors(shop: Shop, now: datetime) -> None:
    """The incremental streams without a cursor start where the history was taken (platform
    time ``now``), less the overlap: what changes from then on is polled."""
    cursor = now - timedelta(seconds=settings.SYNC_OVERLAP_SECONDS)
    Checkpoint.objects.filter(
        shop=shop,
        stream__in=[Checkpoint.Stream.TRADES, Checkpoint.Stream.REFUNDS],
        cursor__isnull=True,
    ).update(cursor=cursor)


def describe(checkpoint: Checkpoint | None, running: bool = False) -> str:
    """The backfill's state in a few words: "done", "trades 42%", "refunds 80%, failed ×2"."""
    state = checkpoint.progress if checkpoint else {}
    if not state.get("until"):
        return "-"
    if state.get("finished_at"):
        return "done"
    _, trades_done, until = _span(state, "trades")
    stage = "trades" if trades_done < until else "refunds"
    begin, done, until = _span(state, stage)
    share = (done - begin) / (until - begin) if until > begin else 1.0
    text = f"{stage} {share:.0%}"
    if running:
        return f"{text}, running"
    if checkpoint and checkpoint.consecutive_failures:
        text += f", failed ×{checkpoint.consecutive_failures}"
    return text


def _span(state: dict[str, Any], stage: str) -> tuple[datetime, datetime, datetime]:
    return (
        require_time(state["from"]),
        require_time(state[f"{stage}_done_until"]),
        require_time(state["until"]),
    )


def _report(
    state: dict[str, Any], stage: str, counters: runs.Counters, on_progress: OnProgress, slices: int
) -> None:
    if on_progress is None:
        return
    begin, done, until = _span(state, stage)
    on_progress(
        Progress(
            stage,
            (done - begin).total_seconds(),
            (until - begin).total_seconds(),
            counters.trades_written,
            slices,
        )
    )


def _backfill_trades(
    shop: Shop, client: TopClient, counters: runs.Counters, on_progress: OnProgress
) -> None:
    # A slice that fails (transiently, or again and again) is halved by runs.record_failure.
    slices = 0
    while True:
        state, written = _trade_slice(shop, client, counters)
        if state is None:
            return
        slices += written  # a slice found too large is halved, not written
        _report(state, "trades", counters, on_progress, slices)


@transaction.atomic
def _trade_slice(
    shop: Shop, client: TopClient, counters: runs.Counters
) -> tuple[dict[str, Any] | None, bool]:
    """Read and write the next slice; return the new state (None when all are done) and
    whether a slice was written."""
    checkpoint = _lock(shop)
    state = checkpoint.progress
    _, done, until = _span(state, "trades")
    if done >= until:
        return None, False
    width = timedelta(seconds=state["slice_seconds"])
    window = Window(done, min(until, done + width))
    set_aside = SetAside.of(checkpoint)
    try:
        _read_slice(shop, client, window, counters, set_aside)
    except WindowTooLarge:
        state["slice_seconds"] = int(narrower(width).total_seconds())
        written = False
    else:
        written = True
        state["trades_done_until"] = format_time(window.end)
        state["slice_seconds"] = int(min(DAY, width * 2).total_seconds())
        checkpoint.progress = state
        set_aside.save_on(checkpoint)  # adds to the progress just set, never under it
        state = checkpoint.progress
        counters.set_aside += set_aside.entries()
    checkpoint.save(update_fields=["progress"])
    return state, written


def _read_slice(
    shop: Shop, client: TopClient, window: Window, counters: runs.Counters, set_aside: SetAside
) -> None:
    fetch = partial(
        api.trades_sold_get,
        client,
        shop.session_key,
        start_created=window.start,
        end_created=window.end - timedelta(seconds=1),  # both bounds are inclusive
        fields=TRADE_FIELDS,
        page_size=settings.SYNC_PAGE_SIZE,
        type=",".join(settings.SYNC_TRADE_TYPES),
    )
    # The first page also counts the slice, so a slice that is too large is split early.
    first = fetch(page_no=1, use_has_next=False)
    total = first.total_results or 0
    if total > settings.SYNC_SPLIT_THRESHOLD and window.end - window.start > timedelta(minutes=1):
        raise WindowTooLarge(total)
    pages: Iterator[list[dict[str, Any]]] = iter([first.items])
    if len(first.items) == settings.SYNC_PAGE_SIZE:
        rest = read_forward(lambda page_no: fetch(page_no=page_no + 1, use_has_next=True))
        # two batches ahead: the next batch is read while this one is written
        ahead = 2 * -(-WRITE_BATCH // settings.SYNC_PAGE_SIZE)
        pages = chain(pages, prefetched(rest, ahead))
    for items in batched(pages, WRITE_BATCH):
        _write_page(shop, client, items, counters, set_aside)


def batched(pages: Iterable[list[dict[str, Any]]], size: int) -> Iterator[list[dict[str, Any]]]:
    """The items of ``pages`` in lists of at least ``size`` (the last one may be shorter)."""
    batch: list[dict[str, Any]] = []
    for items in pages:
        batch += items
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_page(
    shop: Shop,
    client: TopClient,
    items: list[dict[str, Any]],
    counters: runs.Counters,
    set_aside: SetAside,
) -> None:
    items = set_aside.drop_malformed(items, "tid")
    listed = len(items)
    items = complete_page(shop, client, unchanged(shop, TRADES, items), set_aside)
    result = write_trades(shop, items)
    counters.count_written(replace(result, seen=listed))


def _backfill_refunds(
    shop: Shop, client: TopClient, counters: runs.Counters, on_progress: OnProgress
) -> None:
    """Refunds have no created-time list: their history is read by modified, a day at a time."""
    slices = 0
    while True:
        with transaction.atomic():
            checkpoint = _lock(shop)
            state = checkpoint.progress
            _, done, until = _span(state, "refunds")
            if done >= until:
                return
            width = timedelta(seconds=state.get("refund_slice_seconds", DAY.total_seconds()))
            window = Window(done, min(until, done + width))
            # malformed refunds are set aside like trades (kept apart from them), not retried
            set_aside = SetAside.of(checkpoint, REFUND_SET_ASIDE)
            try:
                # pages read ahead while one is written, as for trades
                read_window(
                    shop, REFUNDS, client, window, runs.Counters(), set_aside=set_aside, ahead=20
                )
            except WindowTooLarge:
                state["refund_slice_seconds"] = int(narrower(width).total_seconds())
            else:
                state["refunds_done_until"] = format_time(window.end)
                slices += 1
                checkpoint.progress = state
                set_aside.save_on(checkpoint)
                state = checkpoint.progress
                counters.set_aside += set_aside.entries()
            checkpoint.save(update_fields=["progress"])
        _report(state, "refunds", counters, on_progress, slices)


@transaction.atomic
def _finish(shop: Shop) -> None:
    checkpoint = _lock(shop)
    checkpoint.progress = {**checkpoint.progress, "finished_at": format_time(timezone.now())}
    checkpoint.last_success_at = timezone.now()
    checkpoint.consecutive_failures = 0
    checkpoint.last_error = ""
    checkpoint.next_run_at = None
    checkpoint.save()
