"""Reading the platform's lists without skipping a row.

``increment.get`` lists are sorted by ``modified`` descending. A trade changed while we page
leaves the window's front, and every row behind it moves one place forward: forward paging
then skips a row at each page boundary, backward paging only re-reads one. So windows are
read from the last page to the first, the page count coming from ``total_results``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from django.db import connection

from ordersync.taobao.api import Page
from ordersync.taobao.errors import TradeNotFound
from ordersync.taobao.store import close_state_connection

READ_PASSES = 3


class WindowTooLarge(Exception):
    """The window holds more rows than one read should take: split it."""

    def __init__(self, total: int):
        super().__init__(f"window holds {total} rows")
        self.total = total


class WindowOverrun(Exception):
    """A window took longer than a window may: what it wrote stays, it is read again narrower."""


class WindowUnstable(Exception):
    """Rows kept appearing inside the window while it was read; it is read again later."""


def read_backward(
    fetch: Callable[[int], Page], *, page_size: int, split_threshold: int
) -> Iterator[list[dict]]:
    """Yield the pages of one window, last page first.

    The first call (page 1) only counts, unless the window fits in one page. A row that
    becomes visible inside the window while we page pushes rows past the page count we
    took: any page reporting a larger ``total_results`` makes the pass start over.
    """
    for _ in range(READ_PASSES):
        first = fetch(1)
        total = first.total_results or 0
        if total > split_threshold:
            raise WindowTooLarge(total)
        pages = math.ceil(total / page_size)
        if pages <= 1:
            yield first.items
            return
        grew = False
        for page_no in range(pages, 0, -1):
            page = fetch(page_no)
            grew = grew or (page.total_results or 0) > total
            yield page.items
        if not grew:
            return
    raise WindowUnstable(f"rows kept appearing in the window over {READ_PASSES} passes")


def read_forward(fetch: Callable[[int], Page]) -> Iterator[list[dict]]:
    """Yield pages first to last with ``has_next``: safe only where the sort key never
    changes (``created``, for ``trades.sold.get``)."""
    page_no = 1
    while True:
        page = fetch(page_no)
        yield page.items
        if not page.has_next or not page.items:
            return
        page_no += 1


def _in_thread(fetch: Callable[[int], dict]) -> Callable[[int], dict]:
    def run(key: int) -> dict:
        try:
            return fetch(key)
        finally:
            # connections opened in this pool thread would otherwise outlive it
            close_state_connection()
            connection.close()

    return run


def complete_trades(
    trades: list[dict],
    fetch_full: Callable[[int], dict],
    concurrency: int,
    *,
    not_found: list[int] | None = None,
) -> list[dict]:
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
        with ThreadPoolExecutor(concurrency) as pool:
            full = list(pool.map(_in_thread(fetch), missing))
    if not_found is not None:
        not_found += [tid for tid, trade in zip(missing, full, strict=True) if trade is None]
    by_tid = {trade["tid"]: trade for trade in full if trade is not None}
    return [by_tid.get(trade["tid"], trade) for trade in trades]


def _or_none(fetch: Callable[[int], dict]) -> Callable[[int], dict | None]:
    def run(tid: int) -> dict | None:
        try:
            return fetch(tid)
        except TradeNotFound:
            return None

    return run


def prefetched(pages: Iterator[list[dict]]) -> Iterator[list[dict]]:
    """Yield ``pages`` while the next one is already being fetched in a thread.

    The HTTP call for page n+1 overlaps the database write of page n. Errors are raised in
    the caller at the page where they happened; nothing after a failed page is yielded.
    """
    with ThreadPoolExecutor(1) as pool:
        fetch_next = _in_thread(lambda _: next(pages, None))
        pending = pool.submit(fetch_next, 0)
        while True:
            page = pending.result()
            if page is None:
                return
            pending = pool.submit(fetch_next, 0)
            yield page
