"""The shared budget: never more than M calls in any minute, bans, fairness between shops."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from ordersync.taobao.errors import RateLimited
from ordersync.taobao.limiter import MemoryLimiterStore, TokenBucketLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def max_in_window(times: list[float], window: float) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize("budget", [7, 60, 1000])
def test_never_more_than_the_budget_in_any_minute(budget):
    fake = FakeTime()
    limiter = TokenBucketLimiter(MemoryLimiterStore(fake.time), budget, sleep=fake.sleep)
    grants = []
    while fake.now < 1_000_000 + 300:
        limiter.acquire("app", "shop")
        grants.append(fake.now)
    assert max_in_window(grants, 60.0) <= budget
    # and the budget is used: the refill of (M - burst) a minute, minus the sleep jitter
    burst, _ = limiter.budget("app")
    assert len(grants) >= 5 * (budget - burst) * 0.95


def test_app_ban_parks_every_shop_and_api_ban_only_its_method():
    fake = FakeTime()
    limiter = TokenBucketLimiter(MemoryLimiterStore(fake.time), 600, sleep=fake.sleep)
    limiter.record_ban("app", "api", "taobao.trades.sold.get", 3)
    start = fake.now
    limiter.acquire("app", "a", method="taobao.time.get")
    assert fake.now - start < 0.1
    limiter.acquire("app", "a", method="taobao.trades.sold.get")
    assert fake.now - start >= 3
    limiter.record_ban("app", "app", "taobao.time.get", 5)
    start = fake.now
    limiter.acquire("app", "b", method="taobao.refund.get")
    assert fake.now - start >= 5
    assert limiter.waits == 2


def test_a_ban_longer_than_max_wait_is_raised():
    fake = FakeTime()
    limiter = TokenBucketLimiter(MemoryLimiterStore(fake.time), 600, sleep=fake.sleep, max_wait=60)
    limiter.record_ban("app", "app", "m", 31062)
    with pytest.raises(RateLimited) as caught:
        limiter.acquire("app", "a", method="m")
    assert caught.value.ban_seconds >= 31062
    assert limiter.store._states["app"]["waiters"] == {}


def test_an_idle_shop_is_served_while_a_busy_one_saturates_the_budget():
    limiter = TokenBucketLimiter(MemoryLimiterStore(), 600, burst=1)  # 10 calls a second
    stop = threading.Event()
    granted = Counter()

    def busy():
        while not stop.is_set():
            limiter.acquire("app", "busy")
            granted["busy"] += 1

    workers = [threading.Thread(target=busy) for _ in range(6)]
    for w in workers:
        w.start()
    time.sleep(0.3)
    idle_waits = []
    for _ in range(5):
        idle_waits.append(limiter.acquire("app", "idle"))
        granted["idle"] += 1
        time.sleep(0.2)
    stop.set()
    for w in workers:
        w.join()
    # one token interval is 0.1 s: the idle shop is next in line, not behind six busy workers
    assert max(idle_waits) < 0.35, idle_waits
    assert granted["busy"] >= 10  # ~1.3 s at 10 calls a second, minus the idle shop's
