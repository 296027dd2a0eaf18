"""Backward paging proves its coverage: rows that move across a page boundary while a
window is paged are never skipped, whatever the count does and however ties are ordered."""

from __future__ import annotations

import math
import random
import threading
import time
from datetime import datetime, timedelta

import pytest

from ordersync.taobao.api import Page
from ordersync.taobao.errors import PageTooDeep, TradeNotFound
from ordersync.taobao.store import state_connection
from ordersync.taobao.types import PLATFORM_TZ, format_time
from trades.sync.reading import WindowTooLarge, fetch_all, read_backward, read_forward

T0 = datetime(2026, 11, 11, 10, 0, tzinfo=PLATFORM_TZ)
END = T0 + timedelta(hours=1)
PAGE = 100


class Listing:
    """A list API over ``rows`` (tid -> modified second after T0): ``modified`` descending,
    ties in a random order on every call when ``shuffle``; ``after(n)`` runs after call n."""

    def __init__(
        self, rows: dict[int, int], shuffle: bool = False, max_page_no: int = 0, key="modified"
    ):
        self.rows = dict(rows)
        self.key = key  # the time the list is sorted by and windowed on
        self.shuffle = shuffle
        self.max_page_no = max_page_no
        self.rng = random.Random(5)
        self.calls = 0
        self.after: dict[int, callable] = {}

    def fetch(self, page_no: int, start: datetime, page_size: int) -> Page:
        if self.max_page_no and page_no > self.max_page_no:
            raise PageTooDeep("page_no too deep", code=41)
        low = (start - T0).total_seconds()
        high = (END - T0).total_seconds()
        rows = [(s, tid) for tid, s in self.rows.items() if low <= s <= high]
        self.rng.shuffle(rows)  # the order of one second is whatever the platform does
        rows.sort(key=lambda row: row[0], reverse=True)  # stable: ties stay shuffled
        if not self.shuffle:
            rows.sort(reverse=True)
        chunk = rows[(page_no - 1) * page_size : page_no * page_size]
        items = [{"tid": tid, self.key: format_time(T0 + timedelta(seconds=s))} for s, tid in chunk]
        page = Page(items=items, total_results=len(rows), has_next=None)
        self.calls += 1
        if self.calls in self.after:
            self.after[self.calls]()
        return page


def read_by_position(listing: Listing) -> set[int]:
    """What the engine did before: count, then pages N..1, restarting only when the count
    grows."""
    seen: set[int] = set()
    for _ in range(3):
        total = listing.fetch(1, T0, PAGE).total_results
        grew = False
        for page_no in range(math.ceil(total / PAGE), 0, -1):
            page = listing.fetch(page_no, T0, PAGE)
            grew = grew or page.total_results > total
            seen.update(item["tid"] for item in page.items)
        if not grew:
            return seen
    return seen


def read(listing: Listing, by_modified: bool = True, expected: int = 0) -> set[int]:
    pages = read_backward(
        listing.fetch,
        start=T0,
        page_size=PAGE,
        split_threshold=10_000,
        by_modified=by_modified,
        sort_key=listing.key,
        expected=expected,
    )
    return {item["tid"] for items in pages for item in items}


def a_row_leaves_behind_and_another_enters_ahead(listing: Listing) -> None:
    """The oldest row changes (it leaves the window) and a late change becomes visible near
    the window's front: the count stays, every row ahead of the boundary moves back one."""
    del listing.rows[1000]
    listing.rows[9999] = 3500


def test_a_row_moving_across_a_page_boundary_is_not_skipped():
    rows = {1000 + i: i for i in range(250)}  # one row a second
    positional = Listing(rows)
    positional.after[2] = lambda: a_row_leaves_behind_and_another_enters_ahead(positional)
    seen = read_by_position(positional)
    assert 1050 not in seen  # reproduced: reading by position skips the row pushed back

    proven = Listing(rows)
    proven.after[2] = lambda: a_row_leaves_behind_and_another_enters_ahead(proven)
    seen = read(proven)
    assert set(rows) - {1000} <= seen
    assert proven.calls <= 1 + math.ceil(250 / PAGE) + 2  # about one call per page


def test_a_visibility_time_list_is_read_by_its_time_and_a_row_entering_skips_nothing():
    """``incrementv.get`` lists are sorted by ``async_modified``: read by that time, a row
    that becomes visible ahead while another leaves (the count holds) pushes no row past a
    bound. Read by position (as these lists were), the row pushed back was lost."""
    rows = {1000 + i: i for i in range(250)}
    positional = Listing(rows, key="async_modified")
    positional.after[2] = lambda: a_row_leaves_behind_and_another_enters_ahead(positional)
    assert 1050 not in read(positional, by_modified=False)

    by_time = Listing(rows, key="async_modified")
    by_time.after[2] = lambda: a_row_leaves_behind_and_another_enters_ahead(by_time)
    assert set(rows) - {1000} <= read(by_time)


@pytest.mark.parametrize(("expected", "saved"), [(0, 0), (230, 1), (250, 0), (150, 0), (700, 0)])
def test_a_guessed_last_page_is_the_first_step_only_when_its_own_count_says_so(expected, saved):
    """With the rows a window is thought to hold, the first call reads the page that would
    be the last: when its own count says it is, it is the first step and the count costs
    no call (230: page 3 of 92, 66 rows); a wrong guess (the window holds more pages or
    fewer), or a right one far from full (250: page 3 of 100, 50 rows, a step more later),
    costs what the count did. Rows moving while we page are read all the same."""
    rows = {1000 + i: i for i in range(250)}
    listing = Listing(rows)
    listing.after[2] = lambda: a_row_leaves_behind_and_another_enters_ahead(listing)
    assert set(rows) - {1000} <= read(listing, expected=expected)
    counted = Listing(rows)
    counted.after[2] = lambda: a_row_leaves_behind_and_another_enters_ahead(counted)
    read(counted)
    assert listing.calls == counted.calls - saved


def test_ties_in_a_changing_order_are_all_read():
    rows = {1000 + i: i // 7 for i in range(450)}  # seven rows a second, across boundaries
    lost_by_position = 0
    for seed in range(5):
        listing = Listing(rows, shuffle=True)
        listing.rng.seed(seed)
        assert read(listing) == set(rows)
        listing.rng.seed(seed)
        lost_by_position += len(set(rows) - read_by_position(listing))
    assert lost_by_position  # reproduced: by position, rows of a boundary second go unseen


def test_a_page_deeper_than_the_platform_answers_splits_the_window():
    listing = Listing({i: i for i in range(450)}, max_page_no=3)
    with pytest.raises(WindowTooLarge):
        read(listing)


@pytest.mark.parametrize("shuffle", [False, True])
def test_more_than_a_page_within_one_second_is_read_until_every_row_was_seen(shuffle):
    rows = {1000 + i: 7 for i in range(230)}
    listing = Listing(rows, shuffle=shuffle)
    assert read(listing) == set(rows)
    if not shuffle:
        # the count, two last pages (the second shows the window cannot narrow), pages 3..1
        assert listing.calls == 1 + 2 + 3


def test_forward_paging_past_the_deepest_page_asks_for_a_narrower_slice():
    def fetch(page_no: int) -> Page:
        if page_no > 2:
            raise PageTooDeep("page_no too deep", code=41)
        return Page(items=[{"tid": page_no}], total_results=None, has_next=True)

    pages = read_forward(fetch)
    assert next(pages) == [{"tid": 1}] and next(pages) == [{"tid": 2}]
    with pytest.raises(WindowTooLarge):
        next(pages)


@pytest.mark.django_db
def test_detail_calls_keep_one_state_connection_per_thread_and_close_it():
    """The fan-out of ``trade.fullinfo.get`` calls: results in the keys' order, and each
    thread's limiter connection reused from call to call (a new PostgreSQL backend per call
    cost more than the call on a burst), all of them closed when the threads end."""
    backends: list[int] = []
    opened: list = []
    lock = threading.Lock()

    def fetch(key: int) -> int:
        conn = state_connection()
        with lock:
            backends.append(conn.info.backend_pid)
            opened.append(conn)
        time.sleep(0.005)  # every thread gets keys
        return key * 2

    keys = list(range(60))
    assert fetch_all(fetch, keys, 4) == [key * 2 for key in keys]
    assert len(set(backends)) <= 4  # one per thread, not one per call
    assert all(conn.closed for conn in opened)


def test_detail_calls_raise_the_first_failure_in_key_order_and_stop_taking_keys():
    taken: list[int] = []

    def fetch(key: int) -> int:
        taken.append(key)
        if key in (3, 5):
            time.sleep(0.01 if key == 3 else 0)  # the later key fails first
            raise TradeNotFound(f"trade {key}")
        # a call takes time, as a platform call does: three threads could otherwise take
        # every key while the failing one waits for the interpreter to record its failure
        time.sleep(0.002)
        return key

    with pytest.raises(TradeNotFound, match="trade 3"):
        fetch_all(fetch, list(range(200)), 4)
    assert len(taken) < 200  # no thread took more keys after a failure
