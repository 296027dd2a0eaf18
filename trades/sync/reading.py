"""Reading the platform's lists without skipping a row.

``increment.get`` lists are sorted by ``modified`` descending. A trade changed while we page
leaves the window's front, and every row behind it moves one place forward: forward paging
then skips a row at each page boundary, backward paging only re-reads one. But rows also
enter while we page (a change becoming visible late), and a row can leave while another
enters: the count stays, rows move back by one across a boundary, and a pass that pages by
position skips one. Nor is the order of rows of one second stable between calls.

So a window is read from its last page, and each step proves what it covered: the last page
of ``[start, end]``, taken in one call whose own ``total_results`` says it is the last,
holds every row of the window older than its newest row. The next step reads the window
``[newest, end]``, so rows of the boundary second are re-read whatever their order, and rows
moving across a boundary cannot be missed: nothing is addressed by position across calls.
Whether the platform's start bound includes its own second is undocumented: until a page
shows a row of its window's start second, the step starts one second earlier.
``incrementv.get`` lists are sorted by ``async_modified`` (the time they are windowed on)
and read the same way on that time: a change that becomes visible while we page, inside
the window, moves no row we are still to read past a time bound.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import connection

from ordersync.taobao.api import Page
from ordersync.taobao.errors import PageTooDeep, TradeNotFound
from ordersync.taobao.store import close_state_connection
from ordersync.taobao.types import parse_time

READ_PASSES = 3
# Passes by position: with a tie order that changes on every call, each pass sees most rows
# of a dense second and a few more passes see the rest.
POSITION_PASSES = 12
# Until the start bound is seen to be inclusive, the second before a boundary is read again.
BOUNDARY = timedelta(seconds=1)

Fetch = Callable[[int, datetime, int], Page]  # (page_no, start_modified, page_size) -> page
R = TypeVar("R")


class WindowTooLarge(Exception):
    """The window holds more rows than one read should take: split it."""

    def __init__(self, total: int):
        super().__init__(f"window holds {total} rows")
        self.total = total


class WindowOverrun(Exception):
    """A window took longer than a window may: what it wrote stays, it is read again narrower."""


class WindowUnstable(Exception):
    """Rows kept moving inside the window while it was read; it is read again later."""


def read_backward(
    fetch: Fetch,
    *,
    start: datetime,
    page_size: int,
    split_threshold: int,
    by_modified: bool = True,
    sort_key: str = "modified",
    expected: int = 0,
) -> Iterator[list[dict[str, Any]]]:
    """Yield the pages of the window that starts at ``start``, oldest rows first.

    ``fetch(page_no, start_modified, page_size)`` reads one page of the window from
    ``start_modified`` to its end. The first call counts (it is the whole window when that
    fits one page). ``by_modified``: the list is sorted by its window's time ``sort_key``
    descending (``modified``, documented for ``increment.get``; ``async_modified`` for
    ``incrementv.get``, platform.md §4.3), which is also what ``start_modified`` bounds;
    without it, pages are read by position (see :func:`_passes`). ``expected``: the rows
    the window is thought to hold; on a sorted list the first call then reads the page
    that would be the last, and when its own ``total_results`` says it is, it is the first
    step (as :func:`_last_page` takes one), so the count costs no call of its own.
    """
    first, first_no, size = _first_call(fetch, start, page_size, expected if by_modified else 0)
    total = first.total_results or 0
    if total > split_threshold:
        raise WindowTooLarge(total)
    if first_no == 1 and total <= page_size:
        yield first.items
        return
    if not by_modified:
        yield from _passes(fetch, start, total, page_size)
        return
    proven = first_no > 1 and math.ceil(total / size) == first_no  # as _last_page takes one
    held = (first, first_no) if proven else None
    expected = total
    inclusive = False  # seen: the start bound includes its own second
    while True:
        page, page_no = held or _last_page(fetch, start, expected, page_size)
        held = None
        yield page.items
        if page_no == 1:
            return  # the first page is the last: the rest of the window was read whole
        inclusive = inclusive or any(_time(item, sort_key) == start for item in page.items)
        newest = _newest(page.items, sort_key)
        boundary = newest if inclusive or newest is None else newest - BOUNDARY
        if boundary is None or boundary <= start:
            # about a page of rows within a second or two: no time bound narrows past them
            yield from _passes(fetch, start, page.total_results or 0, page_size)
            return
        start = boundary
        older = sum(1 for item in page.items if (_time(item, sort_key) or start) < start)
        expected = (page.total_results or 0) - older


def _first_call(
    fetch: Fetch, start: datetime, page_size: int, expected: int
) -> tuple[Page, int, int]:
    """The window's first call, its page number and size: the page that would be the last
    of ``expected`` rows, sized so that they lie mid-way through the counts that make it
    the last (page 1 if that is one page, or if it is deeper than the platform pages: then
    the count decides)."""
    size = page_size if expected <= page_size else _centred(expected, page_size)
    guess = max(1, math.ceil(expected / size))
    if guess > 1:
        try:
            return fetch(guess, start, size), guess, size
        except PageTooDeep:
            pass
    return fetch(1, start, page_size), 1, page_size


def _last_page(fetch: Fetch, start: datetime, expected: int, page_size: int) -> tuple[Page, int]:
    """The last page of the window from ``start``, proven by its own ``total_results``.

    Pages are sized so that the last one is about full: a step covers as much as it can."""
    for _ in range(READ_PASSES):
        size = _fullest_last_page(expected, page_size)
        pages = max(1, math.ceil(expected / size))
        try:
            page = fetch(pages, start, size)
        except PageTooDeep:
            raise WindowTooLarge(expected) from None  # deeper than the platform pages
        expected = page.total_results or 0
        if max(1, math.ceil(expected / size)) == pages:
            return page, pages
        # rows came or went since we counted: another page is the last now
    raise WindowUnstable(f"the window's row count kept changing over {READ_PASSES} calls")


def _centred(rows: int, page_size: int) -> int:
    """The page size, from half of ``page_size`` up, whose last page's range of counts has
    ``rows`` nearest its middle: a count a little off still finds that page the last."""

    def margin(size: int) -> int:
        pages = math.ceil(rows / size)
        return min(rows - (pages - 1) * size, pages * size - rows)

    return max(range(page_size, max(1, page_size // 2) - 1, -1), key=margin)


def _fullest_last_page(rows: int, page_size: int) -> int:
    """The page size, from half of ``page_size`` up, that leaves the fullest last page."""
    if rows <= page_size:
        return page_size
    sizes = range(page_size, max(1, page_size // 2) - 1, -1)
    return max(sizes, key=lambda size: rows % size or size)


def _passes(
    fetch: Fetch, start: datetime, total: int, page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Pages last to first by position, in passes, until a pass saw the count hold and, over
    the passes, as many distinct rows as the window holds (bounded, then WindowUnstable).

    For lists whose order is not documented, and for more than a page of rows within two
    seconds, which no time bound can split: rows whose order changes between calls are
    read again until every one was seen. What the window holds is the count of the pass's
    last call (page 1, read last): a row skipped while the pass paged is still in the
    window then, and it is counted. A row entering while another leaves keeps both tests
    quiet: that is a late arrival, for the lag and the daily reconcile."""
    seen: set[tuple[int | None, int | None, int | None]] = set()
    for _ in range(POSITION_PASSES):
        grew, holds = False, total
        for page_no in range(math.ceil(total / page_size), 0, -1):
            page = fetch(page_no, start, page_size)
            holds = page.total_results or 0
            grew = grew or holds > total
            seen.update(_identity(item) for item in page.items)
            yield page.items
        if not grew and len(seen) >= holds:
            return
        total = holds
    raise WindowUnstable(f"rows kept moving in the window over {POSITION_PASSES} passes")


def _identity(item: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    return item.get("tid"), item.get("refund_id"), item.get("num_iid")


def _time(item: dict[str, Any], key: str) -> datetime | None:
    return parse_time(item.get(key)) if item.get(key) else None


def _newest(items: list[dict[str, Any]], key: str) -> datetime | None:
    times = [t for t in (_time(item, key) for item in items) if t is not None]
    return max(times) if times else None


def read_forward(fetch: Callable[[int], Page]) -> Iterator[list[dict[str, Any]]]:
    """Yield pages first to last with ``has_next``: safe only where the sort key never
    changes (``created``, for ``trades.sold.get``). A page deeper than the platform answers
    raises WindowTooLarge: the caller reads narrower slices."""
    page_no, rows = 1, 0
    while True:
        try:
            page = fetch(page_no)
        except PageTooDeep:
            raise WindowTooLarge(rows) from None  # more rows than pages reach: read narrower
        rows += len(page.items)
        yield page.items
        if not page.has_next or not page.items:
            return
        page_no += 1


def fetch_all(fetch: Callable[[int], R], keys: list[int], concurrency: int) -> list[R]:
    """``fetch`` of every key, in the keys' order, on up to ``concurrency`` threads.

    Each thread takes the next key until none is left, keeping its connections (the API
    limiter's, Django's) from one call to the next, and closes them once when it ends: one
    connection per thread, not one per call (a new PostgreSQL backend for each
    ``trade.fullinfo.get`` of a burst costs more than the call). After a failure no thread
    takes another key; the first failure in key order is raised once every thread stopped."""
    results: list[Any] = [None] * len(keys)
    failures: dict[int, Exception] = {}
    lock = threading.Lock()
    indexes = iter(range(len(keys)))

    def work() -> None:
        try:
            while True:
                with lock:
                    index = None if failures else next(indexes, None)
                if index is None:
                    return
                try:
                    results[index] = fetch(keys[index])
                except Exception as error:
                    with lock:
                        failures[index] = error
        finally:
            close_state_connection()
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(min(concurrency, len(keys)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[min(failures)]
    return results


def complete_trades(
    trades: list[dict[str, Any]],
    fetch_full: Callable[[int], dict[str, Any]],
    concurrency: int,
    *,
    not_found: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Replace list entries that lack ``orders`` (peak-mode lists drop them) by the full trade.

    ``trade.fullinfo.get`` is always current, so the full trade may be newer than the entry.
    A tid the detail API does not find raises TradeNotFound, or, given ``not_found``, is
    added to it and keeps its list entry.
    """
    missing = [trade["tid"] for trade in trades if "orders" not in trade]
    if not missing:
        return trades
    fetch = fetch_full if not_found is None else _or_none(fetch_full)
    if concurrency <= 1:
        full = [fetch(tid) for tid in missing]
    else:
        full = fetch_all(fetch, missing, concurrency)
    if not_found is not None:
        not_found += [tid for tid, trade in zip(missing, full, strict=True) if trade is None]
    by_tid = {trade["tid"]: trade for trade in full if trade is not None}
    return [by_tid.get(trade["tid"], trade) for trade in trades]


def _or_none(fetch: Callable[[int], dict[str, Any]]) -> Callable[[int], dict[str, Any] | None]:
    def run(tid: int) -> dict[str, Any] | None:
        try:
            return fetch(tid)
        except TradeNotFound:
            return None

    return run


# what the reading thread hands over: a page, the error that ended the read, or None at the end
Handed = list[dict[str, Any]] | Exception | None


def prefetched(
    pages: Iterator[list[dict[str, Any]]], ahead: int = 1
) -> Iterator[list[dict[str, Any]]]:
    """Yield ``pages`` while one thread reads up to ``ahead`` pages further.

    The HTTP calls for the next pages overlap the database write of this one; the thread
    keeps its connections (the limiter's, Django's) for the whole read and closes them at
    the end. Errors are raised in the caller at the page where they happened; nothing after
    a failed page is yielded. Closing the iterator early stops the thread after its page.
    """
    ready: queue.Queue[Handed] = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    reader = threading.Thread(target=_read_ahead, args=(pages, ready, stop), daemon=True)
    reader.start()
    try:
        while True:
            handed = ready.get()
            if isinstance(handed, Exception):
                raise handed
            if handed is None:
                return
            yield handed
    finally:
        stop.set()
        reader.join()


def _read_ahead(
    pages: Iterator[list[dict[str, Any]]], ready: queue.Queue[Handed], stop: threading.Event
) -> None:
    def hand_over(handed: Handed) -> bool:
        while not stop.is_set():
            try:
                ready.put(handed, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for page in pages:
            if not hand_over(page):
                return
        hand_over(None)
    except Exception as error:
        hand_over(error)
    finally:
        # connections opened in this thread would otherwise outlive it
        close_state_connection()
        connection.close()
