"""The backfill's read-ahead: pages in order, an error where it happened, a thread that stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from trades.sync.reading import prefetched


def test_pages_come_in_order_then_the_error_of_the_page_that_failed():
    def pages() -> Iterator[list[dict[str, Any]]]:
        yield [{"n": 1}]
        yield [{"n": 2}]
        raise RuntimeError("page 3 failed")

    got = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for page in prefetched(pages(), ahead=5):
            got.append(page)
    assert got == [[{"n": 1}], [{"n": 2}]]


def test_closing_early_stops_the_reading_thread_within_the_pages_ahead():
    read: list[int] = []

    def pages() -> Iterator[list[dict[str, Any]]]:
        for n in range(1000):
            read.append(n)
            yield [{"n": n}]

    before = set(threading.enumerate())
    pages_ahead = prefetched(pages(), ahead=3)
    assert next(pages_ahead) == [{"n": 0}]
    assert set(threading.enumerate()) - before  # the reading thread
    pages_ahead.close()
    assert not set(threading.enumerate()) - before  # gone: threads of other tests may end
    # the page handed over, three waiting, and the one the thread held when it was stopped
    assert len(read) <= 5
