from __future__ import annotations

from datetime import datetime, timedelta

from ordersync.taobao.types import PLATFORM_TZ
from trades.sync.windows import Window, narrower, next_window, wider

T0 = datetime(2026, 11, 11, 0, 0, tzinfo=PLATFORM_TZ)
MIN = timedelta(minutes=1)


def test_window_overlaps_the_cursor_and_trails_now_by_the_lag():
    window = next_window(T0, T0 + 60 * MIN, overlap=5 * MIN, lag=3 * MIN, width=30 * MIN)
    assert window == Window(T0 - 5 * MIN, T0 + 30 * MIN)
    window = next_window(T0, T0 + 10 * MIN, overlap=5 * MIN, lag=3 * MIN, width=30 * MIN)
    assert window == Window(T0 - 5 * MIN, T0 + 7 * MIN)


def test_no_window_until_time_passes_the_lag():
    assert next_window(T0, T0 + 3 * MIN, overlap=5 * MIN, lag=3 * MIN, width=30 * MIN) is None


def test_narrower_and_wider_stay_in_bounds():
    assert narrower(30 * MIN) == 15 * MIN
    assert narrower(MIN) == MIN
    assert wider(20 * MIN, 30 * MIN) == 30 * MIN
