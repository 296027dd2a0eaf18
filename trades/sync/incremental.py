"""Incremental sync of one shop stream under the no-loss rules; returns a SyncRun.

The locks: a run takes the stream's run lock (a session-level advisory lock keyed by the
checkpoint row, see ``trades.sync.locks``) and holds it until it ends, so a duplicate task
leaves at once and two runs of one stream never overlap. No transaction spans an HTTP call:
each page of a window is fetched, then written in a short transaction of its own, so a TMC
write of the same trade never waits for the window's calls. The cursor moves only after the
whole window is durably written (rule 6), in a short transaction that locks the checkpoint
row and moves the cursor only if nobody else moved it since the window began. A worker that
dies mid-window leaves the pages it wrote (re-reading is harmless: writes are idempotent and
monotonic) and the cursor where it was.

Windows run on ``modified`` (``increment.get``, ``refunds.receive.get``) or, for trades where
the app may call it, on visibility time (``incrementv.get``, ``async_modified``), which has
no lag gap. Windows on ``modified`` find late arrivals in their overlap and in a periodic
sweep behind the cursor, and widen lag and overlap from the lag measured (``late``); a run
whose widened windows caught up reads ahead of the cursor to ``now − SYNC_LAG_SECONDS``.

Windows are bounded in rows (≤ ``SYNC_SPLIT_THRESHOLD``) and in time: a window that reads
longer than ``SYNC_WINDOW_TIME_LIMIT`` keeps the pages it wrote and the cursor, and is read
again narrower; at the narrowest width (where the overlap alone may be the heavy part) it is
read in committed parts, each part's end recorded, a part that still overruns halved down to
one second, which is read whole. The run's ``notes`` say which of these happened. A run
stops starting windows after ``SYNC_RUN_TIME_LIMIT``, well inside ``Q_TIMEOUT``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypedDict, Unpack

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import PermissionDenied
from ordersync.taobao.types import format_time, parse_time, require_time
from shops.models import Checkpoint, Shop, SyncRun, TopApp
from shops.top import client_for_shop
from trades.db import binary_cursor, jsonb
from trades.feed.changes import Change
from trades.models import Refund, Trade
from trades.sync import late, locks, runs
from trades.sync.fields import TRADE_FIELDS
from trades.sync.late import MODIFIED, VISIBLE
from trades.sync.poison import SetAside
from trades.sync.reading import (
    Fetch,
    WindowOverrun,
    WindowTooLarge,
    complete_trades,
    prefetched,
    read_backward,
)
from trades.sync.streams import STREAMS, Stream
from trades.sync.windows import MIN_WIDTH, Window, narrower, next_window, wider

MAX_WINDOWS_PER_RUN = 500
PART_FLOOR = timedelta(seconds=1)  # a part this narrow cannot be narrower: read whole
INCREMENTV_RECHECK = timedelta(days=1)  # an app refused incrementv.get asks again after this
INCREMENTV = "taobao.trades.sold.incrementv.get"


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
    calls = runs.CallMeter(client)
    step = Step.MORE
    try:
        for _ in range(MAX_WINDOWS_PER_RUN):
            step = _sync_window(shop, spec, client, run, counters)
            if step is not Step.MORE or time.monotonic() > stop_at:
                break  # caught up, or the run has had its time: the next one goes on
        if time.monotonic() <= stop_at:
            _around_cursor(shop, spec, client, counters, step, stop_at)
    except Exception as error:
        calls.settle(counters)
        runs.finish_run(run, counters, SyncRun.Outcome.FAILED, error)
        runs.record_failure(shop, spec.name, error)
        return run
    calls.settle(counters)
    runs.finish_run(run, counters, SyncRun.Outcome.SUCCEEDED)
    runs.record_success(shop, run.window_end, spec.name)
    return run


def _around_cursor(
    shop: Shop,
    spec: Stream,
    client: TopClient,
    counters: runs.Counters,
    step: Step,
    stop_at: float,
) -> None:
    """Read ahead of the cursor (once caught up) and sweep behind it. On visibility time
    only once late arrivals were measured there (an ``async_modified`` stamped before its
    row was listed): with no lag gap, nothing lies behind the overlap until then."""
    checkpoint = Checkpoint.objects.get(shop=shop, stream=spec.name)
    checkpoint.shop = shop  # the one loaded, with its app
    source = window_source(shop, spec)
    if checkpoint.progress.get("source", MODIFIED) != source:
        return
    if source == VISIBLE and checkpoint.measured_lag() <= late.set_lag(VISIBLE):
        return
    if step is Step.CAUGHT_UP:
        read_ahead(checkpoint, spec, client, counters, stop_at)
    if time.monotonic() <= stop_at:
        sweep(checkpoint, spec, client, counters, stop_at)


def window_limit(shop: Shop) -> timedelta:
    seconds = (
        settings.SYNC_DEGRADED_WINDOW_SECONDS
        if shop.degraded
        else (settings.SYNC_MAX_WINDOW_SECONDS)
    )
    return timedelta(seconds=seconds)


def window_source(shop: Shop, spec: Stream) -> str:
    """What the stream's windows run on: visibility time (trades, where the app may call
    ``incrementv.get``) or ``modified``. The refusal is read from ``shop.app`` as it was
    loaded (a task loads the shop afresh)."""
    if spec.name != "trades" or not settings.SYNC_INCREMENTV:
        return MODIFIED
    denied_at = shop.app.incrementv_denied_at
    if denied_at is not None and timezone.now() - denied_at < INCREMENTV_RECHECK:
        return MODIFIED
    return VISIBLE


def _cursor(checkpoint: Checkpoint, source: str) -> datetime | None:
    """The cursor in ``source`` time. A cursor on visibility time read on ``modified`` steps
    back by the longest lag we reckon with: a change visible after the cursor may have been
    modified long before it. The other way round needs no step (``modified`` ≤ visible)."""
    cursor = checkpoint.cursor
    if cursor is not None and checkpoint.progress.get("source", MODIFIED) == VISIBLE != source:
        lag, overlap = settings.SYNC_LAG_SECONDS, settings.SYNC_OVERLAP_SECONDS
        cursor -= timedelta(seconds=max(settings.SYNC_SWEEP_SECONDS, lag + overlap))
    return cursor


def _sync_window(
    shop: Shop, spec: Stream, client: TopClient, run: SyncRun, counters: runs.Counters
) -> Step:
    checkpoint = Checkpoint.objects.get(shop=shop, stream=spec.name)
    source = window_source(shop, spec)
    now = client.clock.now()
    lag, overlap = late.lag_and_overlap(checkpoint, source)
    limit = window_limit(shop)
    width = min(limit, timedelta(seconds=checkpoint.progress.get("window_seconds", 1e9)))
    # A stream without a cursor (no backfill yet) starts at the present, or reads everything
    # since ``spec.since`` in its first window.
    cursor = _cursor(checkpoint, source)
    if cursor is None and spec.since is not None:
        cursor, width = spec.since + overlap, now - spec.since
    cursor = cursor or (now - lag)
    parts = checkpoint.progress.get("parts")
    if parts and parts.get("source", MODIFIED) != source:
        parts = None  # read in another time: the parts no longer apply
    window = (
        _part(parts) if parts else next_window(cursor, now, overlap=overlap, lag=lag, width=width)
    )
    if window is None:
        _advance(checkpoint, cursor, width, source)
        return Step.CAUGHT_UP
    run.window_start = run.window_start or window.start
    run.window_end = window.end
    set_aside = SetAside.of(checkpoint)
    watch = Watch(spec, source, checkpoint.cursor, lag, now) if checkpoint.cursor else None
    window, parts, deadline = _time_limit(checkpoint, window, width, parts, source, counters)
    try:
        how: ReadHow = {"source": source, "watch": watch, "expected": _expected(checkpoint, window)}
        rows, split = read_split(shop, spec, client, window, counters, deadline, set_aside, **how)
    except WindowOverrun:
        _overran(checkpoint, window, width, parts, counters)
        return Step.MORE
    except PermissionDenied as error:
        if source != VISIBLE:
            raise
        _deny_incrementv(shop, error, counters)
        return Step.MORE
    finally:
        if watch is not None:
            counters.late_arrivals += watch.flush(shop)
    counters.set_aside += set_aside.entries()
    if parts:
        done = window.end >= require_time(parts["end"])
        # the next part twice as wide: only the heavy stretch of the window is read narrow
        grown = min(2 * parts["seconds"], int((window.end - window.start).total_seconds()) * 2)
        parts = None if done else {**parts, "next": format_time(window.end), "seconds": grown}
        _advance(checkpoint, max(cursor, window.end), width, source, set_aside, parts)
        return Step.MORE
    quiet = rows < settings.SYNC_SPLIT_THRESHOLD // 10
    width = narrower(width) if split else wider(width, limit) if quiet else width
    rate = rows / max(1.0, (window.end - window.start).total_seconds())
    if not _advance(checkpoint, window.end, width, source, set_aside, rate=rate):
        return Step.CAUGHT_UP  # another writer set the cursor meanwhile: the next run goes on
    return Step.MORE if window.end < now - lag - timedelta(seconds=1) else Step.CAUGHT_UP


def _time_limit(
    checkpoint: Checkpoint,
    window: Window,
    width: timedelta,
    parts: dict[str, Any] | None,
    source: str,
    counters: runs.Counters,
) -> tuple[Window, dict[str, Any] | None, float | None]:
    """The window to read now, the parts it belongs to, and its deadline (None: whole).

    A window of the narrowest width is read whole however long it takes, recorded first on
    the checkpoint (``progress.whole``). A run that finds that record finds a whole read that
    died (``Q_TIMEOUT``, a kill) or failed: it reads the window in committed parts instead, so
    the same window is never retried the same way. A part of one second is read whole."""
    deadline = time.monotonic() + settings.SYNC_WINDOW_TIME_LIMIT
    if parts:
        if window.end - window.start <= PART_FLOOR:
            counters.notes.append(f"{_span(window)} read whole without a time limit (1 s)")
            return window, parts, None
        return window, parts, deadline
    if width > MIN_WIDTH:
        return window, None, deadline
    if checkpoint.progress.get("whole"):
        parts = _parts_of(window, source)
        counters.notes.append(
            f"{_span(window)}: its last reading as a whole did not finish: read in committed "
            f"parts of {parts['seconds']} s"
        )
        _set_progress(checkpoint, whole=None, parts=parts)
        return _part(parts), parts, deadline
    whole = {"start": format_time(window.start), "end": format_time(window.end)}
    _set_progress(checkpoint, whole=whole)
    counters.notes.append(f"{_span(window)} read whole without a time limit (narrowest width)")
    return window, None, None


def _parts_of(window: Window, source: str) -> dict[str, Any]:
    seconds = max(1, int((window.end - window.start).total_seconds()) // 2)
    start, end = format_time(window.start), format_time(window.end)
    return {"next": start, "end": end, "seconds": seconds, "source": source}


def _part(parts: dict[str, Any]) -> Window:
    start, end = require_time(parts["next"]), require_time(parts["end"])
    return Window(start, min(end, start + timedelta(seconds=parts["seconds"])))


def _span(window: Window) -> str:
    return f"window {format_time(window.start)} – {format_time(window.end)}"


def _overran(
    checkpoint: Checkpoint,
    window: Window,
    width: timedelta,
    parts: dict[str, Any] | None,
    counters: runs.Counters,
) -> None:
    """A window outlived ``SYNC_WINDOW_TIME_LIMIT``: what it wrote stays, the cursor stays.
    Read it again narrower than it was (a window that ``now − lag`` cut short: narrower than
    that; a part: in parts half as wide). Never the same way again."""
    limit = settings.SYNC_WINDOW_TIME_LIMIT
    if parts:
        seconds = max(1, parts["seconds"] // 2)
        parts = {**parts, "seconds": seconds}
        note = f"part {_span(window)} outlived {limit} s: parts of {seconds} s from here"
    else:
        width = narrower(min(width, window.end - window.start))
        note = f"{_span(window)} outlived {limit} s: read again {int(width.total_seconds())} s wide"
    counters.notes.append(note)
    _keep(checkpoint, width, parts)


def _deny_incrementv(shop: Shop, error: PermissionDenied, counters: runs.Counters) -> None:
    """The app may not call incrementv.get: remember it on the app (every shop of it falls
    back to windows on ``modified``, and asks again after ``INCREMENTV_RECHECK``)."""
    shop.app.incrementv_denied_at = timezone.now()
    TopApp.objects.filter(pk=shop.app_id).update(incrementv_denied_at=shop.app.incrementv_denied_at)
    counters.notes.append(f"{INCREMENTV} refused ({error}): windows on modified from here")


@dataclass
class Watch:
    """Finds the late arrivals of one window: records it stored for the first time whose
    window key lies behind ``passed``, the end the stream had already passed with ``lag``."""

    spec: Stream
    source: str
    passed: datetime
    lag: timedelta
    seen_at: datetime | None = None  # platform time the window began reading
    found: list[float] = field(default_factory=list)

    def keys(self, items: list[dict[str, Any]]) -> dict[int, datetime | None]:
        return late.window_keys(items, self.spec.key, self.source)

    def saw(self, keys: dict[int, datetime | None], changes: Iterable[Change]) -> None:
        changed = (c.key for c in changes)
        self.found += late.samples(changed, keys, self.passed, self.lag, self.seen_at)

    def flush(self, shop: Shop) -> int:
        """Record what was found on the checkpoint; return how many."""
        found, self.found = self.found, []
        if found:
            late.note(shop, self.spec.name, found)
        return len(found)


def read_split(
    shop: Shop,
    spec: Stream,
    client: TopClient,
    window: Window,
    counters: runs.Counters,
    deadline: float | None = None,
    set_aside: SetAside | None = None,
    **how: Unpack[ReadHow],
) -> tuple[int, bool]:
    """Read a window, in halves while a part holds more than ``SYNC_SPLIT_THRESHOLD`` rows.

    Return the rows read and whether the window had to be split. A part one second wide
    cannot be split further and is read whole, however many rows it holds. ``how`` goes to
    :func:`read_window`.
    """
    threshold = settings.SYNC_SPLIT_THRESHOLD
    if window.end - window.start <= timedelta(seconds=1):
        threshold = 10**9
    args = (shop, spec, client)
    try:
        rows = read_window(*args, window, counters, threshold, deadline, set_aside, **how)
        return rows, False
    except WindowTooLarge:
        halves = window.halves()
        how = {**how, "expected": 0}
        rows = sum(read_split(*args, h, counters, deadline, set_aside, **how)[0] for h in halves)
        return rows, True


class ReadHow(TypedDict, total=False):
    """How ``read_split`` reads each part: ``read_window``'s keyword arguments."""

    source: str
    watch: Watch | None
    skip_stored: bool
    expected: int


def _expected(checkpoint: Checkpoint, window: Window) -> int:
    """The rows ``window`` is thought to hold: the stream's last rate (rows listed a second
    of its last whole window) over this window's span."""
    rate: float = checkpoint.progress.get("rate", 0.0)
    return round(rate * (window.end - window.start).total_seconds())


def read_window(
    shop: Shop,
    spec: Stream,
    client: TopClient,
    window: Window,
    counters: runs.Counters,
    split_threshold: int | None = None,
    deadline: float | None = None,
    set_aside: SetAside | None = None,
    *,
    source: str = MODIFIED,
    watch: Watch | None = None,
    skip_stored: bool = False,
    ahead: int = 0,
    expected: int = 0,
) -> int:
    """Read one window from its last page to its first and write every page, each in its own
    transaction; return the rows listed.

    Past ``deadline`` (``time.monotonic()``), raise WindowOverrun before the next page.
    With ``set_aside``, poison records are set aside instead of failing the window. ``source``
    says which time the window is on; ``watch`` collects late arrivals. Records whose write
    would change nothing (stored at a newer ``modified``, or at the same one with every
    listed field) are left out with one query per page: no detail call, no write.
    ``skip_stored`` leaves out every record stored at its ``modified`` or a newer one (a
    same-second version is left to the overlap and the reconcile). With ``ahead``, a thread
    reads up to that many pages ahead while a page is written (what the read does next
    depends on the pages it read only)."""
    fetch = _lister(shop, spec, client, window, source)
    rows = 0
    pages: Iterator[list[dict[str, Any]]] = read_backward(
        fetch,
        start=window.start,
        # each list is sorted by its window's time: increment.get by ``modified``,
        # incrementv.get by ``async_modified`` (a refund list whose order is not documented:
        # by position)
        by_modified=source == VISIBLE or spec.sorted_by_modified,
        sort_key=source,
        expected=expected,
        page_size=settings.SYNC_PAGE_SIZE,
        split_threshold=split_threshold or settings.SYNC_SPLIT_THRESHOLD,
    )
    if ahead:
        pages = prefetched(pages, ahead)
    for index, items in enumerate(pages):
        if index and deadline is not None and time.monotonic() > deadline:
            # checked before a page, not after it: a window whose last page is written in
            # time has not overrun
            raise WindowOverrun(f"window {window.start} – {window.end} ran out of time")
        rows += len(items)
        if set_aside is not None:
            items = set_aside.drop_malformed(items, spec.key, spec.required)
        keys = watch.keys(items) if watch is not None else {}
        if source == VISIBLE:
            # not part of the trade: a payload with it would differ from the same version
            # written by TMC or the reconcile
            items = [{k: v for k, v in item.items() if k != VISIBLE} for item in items]
        listed = len(items)
        items = unchanged(shop, spec, items, same_second=skip_stored)
        if spec.needs_orders:
            items = complete_page(shop, client, items, set_aside)
        # it settles same-second conflicts
        result = spec.write(shop, items, client=client, channel="polling")
        if watch is not None:
            watch.saw(keys, result.changes)
        counters.count_written(replace(result, seen=listed))
    return rows


def _lister(shop: Shop, spec: Stream, client: TopClient, window: Window, source: str) -> Fetch:
    """The page fetcher of one window: ``fetch(page_no, start, page_size) -> Page``, reading
    from ``start`` to the window's end."""
    types = ",".join(settings.SYNC_TRADE_TYPES) if spec.needs_orders else None
    session = shop.session_key

    def fetch(page_no: int, start: datetime, page_size: int) -> api.Page:
        if source == VISIBLE:
            fields = f"{spec.fields},{VISIBLE}"
            return api.trades_sold_incrementv_get(
                client, session, start_create=start, end_create=window.end, fields=fields,
                page_no=page_no, page_size=page_size, type=types,
            )  # fmt: skip
        return spec.list_modified(
            client, session, start_modified=start, end_modified=window.end, fields=spec.fields,
            page_no=page_no, page_size=page_size, type=types,
        )  # fmt: skip

    return fetch


def unchanged(
    shop: Shop, spec: Stream, items: list[dict[str, Any]], *, same_second: bool = False
) -> list[dict[str, Any]]:
    """``items`` without the records whose write would change nothing: those stored at a
    newer ``modified``, and those stored at the same one holding every listed field (a
    trade: whole, with ``orders``). With ``same_second``, every record stored at its
    ``modified`` is left out, whatever it holds.

    Keys and times are compared first; payloads are sent only for the records stored at
    their own second, usually none (a backfill's new rows): encoding and parsing a page of
    payloads cost more than the rest of the check. The stored ``modified`` only grows, so
    a record found stored newer by the first query stays so for the second."""
    model: Any = spec.model or (Trade if spec.name == "trades" else Refund)
    key, table = spec.key, model._meta.db_table
    # a record without its key or time is the write's to refuse, not this query's
    known = [(at, item) for at, item in enumerate(items) if item.get(key) and item.get("modified")]
    if not known:
        return items
    keys = [item[key] for _, item in known]
    with binary_cursor() as cursor:
        # ``= ANY`` beside the join: the planner probes the key index for these rows instead of
        # hashing every row of the shop (a backfill's cost would grow with what it stored)
        cursor.execute(
            f"""
            SELECT u.i, t.modified > u.m FROM {table} t
            JOIN unnest(%b::bigint[], %b::timestamptz[]) WITH ORDINALITY AS u(k, m, i)
              ON t.{key} = u.k
            WHERE t.shop_id = %b AND t.{key} = ANY(%b) AND t.modified >= u.m
            """,
            [keys, [parse_time(item["modified"]) for _, item in known], shop.pk, keys],
        )
        stored = cursor.fetchall()
    done = {known[i - 1][0] for i, newer in stored if newer or same_second}
    ties = [known[i - 1] for i, newer in stored if not (newer or same_second)]
    done |= _whole_at_same_second(shop, spec, table, ties)
    return [item for at, item in enumerate(items) if at not in done]


def _whole_at_same_second(
    shop: Shop, spec: Stream, table: str, ties: list[tuple[int, dict[str, Any]]]
) -> set[int]:
    """The places of ``ties`` (place, record) whose stored row, at the record's ``modified``,
    holds every field the record lists."""
    if not ties:
        return set()
    key = spec.key
    keys = [item[key] for _, item in ties]
    whole = "AND t.payload ? 'orders'" if spec.needs_orders else ""
    with binary_cursor() as cursor:
        cursor.execute(
            f"""
            SELECT u.i FROM {table} t
            JOIN unnest(%b::bigint[], %b::timestamptz[], %b::jsonb[], %b::bigint[])
              AS u(k, m, p, i) ON t.{key} = u.k
            WHERE t.shop_id = %b AND t.{key} = ANY(%b) AND t.modified = u.m
              AND t.payload @> u.p {whole}
            """,
            [
                keys,
                [parse_time(item["modified"]) for _, item in ties],
                [jsonb(item) for _, item in ties],
                [at for at, _ in ties],
                shop.pk,
                keys,
            ],
        )
        return {row[0] for row in cursor.fetchall()}


def read_ahead(
    checkpoint: Checkpoint, spec: Stream, client: TopClient, counters: runs.Counters, stop_at: float
) -> None:
    """Read the stretch from the cursor to ``now −`` the lag setting of a stream whose
    windows trail further (the measured lag widened their lag), without moving the cursor.

    Windows that trail by the measured lag leave every change of that stretch to a later
    run, although most of them are listed already: a change made seconds before a run,
    with the usual lag, would wait a whole measured lag (and another run) to be stored.
    Only the records whose write would change something are completed and written: those
    not stored at their ``modified``, and a second version of the stored one's second (the
    windows, a measured lag behind, would leave it stale that long); the cursor, and so the
    windows that find the late arrivals, stay where they are. A read that
    outlives ``SYNC_WINDOW_TIME_LIMIT`` (or the run's time) stops: the windows read it all
    later anyway. In the time of the stream's cursor; ``checkpoint`` is the stream's."""
    shop = checkpoint.shop
    if checkpoint.cursor is None:
        return
    source = checkpoint.progress.get("source", MODIFIED)
    lag, _ = late.lag_and_overlap(checkpoint, source)
    configured = timedelta(seconds=round(late.set_lag(source)))
    if lag <= configured:
        return  # the windows reach now − SYNC_LAG_SECONDS themselves
    end = (client.clock.now() - configured).replace(microsecond=0)
    start = checkpoint.cursor
    if end <= start:
        return
    end = min(end, start + window_limit(shop))
    window = Window(start, end)
    deadline = min(stop_at, time.monotonic() + settings.SYNC_WINDOW_TIME_LIMIT)
    set_aside = SetAside.of(checkpoint)
    try:
        rows, _ = read_split(
            shop, spec, client, window, counters, deadline, set_aside, source=source
        )
        note = f"read {_span(window)} ahead of the cursor: {rows} row(s)"
    except WindowOverrun:
        note = f"read {_span(window)} ahead of the cursor: out of time, left to the windows"
    counters.set_aside += set_aside.entries()
    _set_progress(checkpoint, set_aside)
    counters.notes.append(note)


def sweep(
    checkpoint: Checkpoint, spec: Stream, client: TopClient, counters: runs.Counters, stop_at: float
) -> None:
    """Every ``SYNC_SWEEP_PERIOD_SECONDS``, re-read the last ``SYNC_SWEEP_SECONDS`` behind
    the cursor, in the cursor's time, for changes that became visible only after every
    window covering them had passed (late arrivals, counted and measured).

    Only the records not stored yet at their ``modified`` are completed and written, so a
    sweep costs list calls. It is read in parts of the window width, its progress recorded
    after each, and a run out of time leaves the rest to the next run. A same-second version
    (equal ``modified``) is left to the overlap and the reconcile. ``checkpoint`` is the
    stream's."""
    span = settings.SYNC_SWEEP_SECONDS
    if not span:
        return
    shop = checkpoint.shop
    if checkpoint.cursor is None:
        return
    source = checkpoint.progress.get("source", MODIFIED)
    now = client.clock.now()
    state = checkpoint.progress.get("sweep") or {}
    if "next" in state:
        start, end = require_time(state["next"]), require_time(state["end"])
    else:
        last = parse_time(state.get("at"))
        if last is not None and (now - last).total_seconds() < settings.SYNC_SWEEP_PERIOD_SECONDS:
            return
        start, end = checkpoint.cursor - timedelta(seconds=span), checkpoint.cursor
    lag, _ = late.lag_and_overlap(checkpoint, source)
    watch = Watch(spec, source, checkpoint.cursor, lag, now)
    width = min(window_limit(shop), timedelta(seconds=span))
    try:
        while start < end:
            part = Window(start, min(end, start + width))
            set_aside = SetAside.of(checkpoint)
            how: ReadHow = {"source": source, "watch": watch, "skip_stored": True}
            read_split(shop, spec, client, part, counters, None, set_aside, **how)
            counters.set_aside += set_aside.entries()
            start = part.end
            done = {"at": format_time(now)}
            state = (
                done
                if start >= end
                else {**state, "next": format_time(start), "end": format_time(end)}
            )
            _set_progress(checkpoint, set_aside, sweep=state)
            if start < end and time.monotonic() > stop_at:
                return  # the next run goes on from here
    finally:
        found = watch.flush(shop)
        counters.late_arrivals += found
    counters.notes.append(f"swept {span} s behind the cursor: {found} late arrival(s)")


def complete_page(
    shop: Shop, client: TopClient, items: list[dict[str, Any]], set_aside: SetAside | None
) -> list[dict[str, Any]]:
    """Trades of a page completed with ``fullinfo`` where the list entry lacks ``orders``.
    Callers leave out first what is stored already (``unchanged``): every window re-reads
    its overlap, and peak lists would cost a call per row each time."""
    if set_aside is None:
        return complete_trades(items, fullinfo_fetcher(shop, client), fan_out(shop))
    not_found: list[int] = []
    fetch = fullinfo_fetcher(shop, client)
    items = complete_trades(items, fetch, fan_out(shop), not_found=not_found)
    set_aside.take_not_found(not_found)
    return items


def fan_out(shop: Shop) -> int:
    """How many ``trade.fullinfo.get`` calls run at once; one at a time when degraded."""
    return 1 if shop.degraded else settings.SYNC_FULLINFO_CONCURRENCY


def fullinfo_fetcher(shop: Shop, client: TopClient) -> Callable[[int], dict[str, Any]]:
    def fetch(tid: int) -> dict[str, Any]:
        return api.trade_fullinfo_get(client, shop.session_key, tid, TRADE_FIELDS)

    return fetch


@transaction.atomic
def _set_progress(
    checkpoint: Checkpoint, set_aside: SetAside | None = None, **values: object
) -> None:
    """Merge ``values`` into the checkpoint's progress (None removes a key) in a short
    transaction of its own: what other writers put there meanwhile stays."""
    row = Checkpoint.objects.select_for_update().get(pk=checkpoint.pk)
    progress = {**row.progress, **values}
    row.progress = {k: v for k, v in progress.items() if v is not None}
    if set_aside is not None:
        set_aside.save_on(row)
    row.save(update_fields=["progress"])
    checkpoint.progress = row.progress


def _keep(checkpoint: Checkpoint, width: timedelta, parts: dict[str, Any] | None) -> None:
    """Keep the cursor; read the next window ``width`` wide (or the next of ``parts``)."""
    overruns = checkpoint.progress.get("overruns", 0) + 1  # shown on the shop's checkpoint
    seconds = int(width.total_seconds())
    _set_progress(checkpoint, window_seconds=seconds, overruns=overruns, parts=parts)


@transaction.atomic
def _advance(
    checkpoint: Checkpoint,
    cursor: datetime,
    width: timedelta,
    source: str,
    set_aside: SetAside | None = None,
    parts: dict[str, Any] | None = None,
    *,
    rate: float | None = None,
) -> bool:
    """Move the cursor to ``cursor`` once everything before it is written; False, and no
    move, when another writer moved the cursor since ``checkpoint`` was read. ``rate``:
    rows listed a second of the window, kept to guess the next window's last page."""
    row = Checkpoint.objects.select_for_update().get(pk=checkpoint.pk)
    if row.cursor != checkpoint.cursor:
        return False
    progress = {**row.progress, "window_seconds": int(width.total_seconds()), "source": source}
    progress["parts"] = parts
    progress["whole"] = None  # a whole read that got here finished
    if rate is not None:
        progress["rate"] = round(rate, 3)
    row.progress = {k: v for k, v in progress.items() if v is not None}
    if set_aside is not None:
        set_aside.save_on(row)
    row.cursor = cursor
    row.last_success_at = timezone.now()
    row.last_error = ""
    row.consecutive_failures = 0
    row.next_run_at = None
    row.save()
    return True
