"""The app's API budget, shared by every worker: a fair token bucket plus the bans TOP sends.

The algorithm lives here; a store only has to run ``fn(state, now)`` atomically on one app
key's state (a row lock in PostgreSQL, a mutex in memory). ``now`` is the store's clock, so
machines whose clocks disagree still share one bucket.

Guarantee: a bucket of ``burst`` tokens refilled at ``(M - burst) / 60`` per second never
grants more than M calls in any 60 seconds.

Fairness: when tokens are scarce, the next token goes to the waiting shop that was served
longest ago, so a busy shop with many workers cannot starve a shop that calls now and then.
When a shop was served is kept only while tokens are scarce (the bucket under half full, or
another caller waiting): a budget that has room grants every call at once, so thousands of
shops calling now and then leave nothing in the state, which every call reads and writes.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, TypeVar

from ordersync.taobao.errors import RateLimited

T = TypeVar("T")
WAITER_TTL = 5.0  # a waiter that has not looked for this long is dead (its process crashed)
MAX_NAP = 0.5  # waiters look again at least this often, which keeps them alive
TURN_NAP = 0.02  # a token is free but another shop is first in line
# Forget when a shop was last served after this long: a shop not served for a minute is as
# good as never served (first in line), and the row stays small with thousands of shops.
SERVED_MEMORY = 60.0


class LimiterStore(Protocol):
    def update(self, app_key: str, fn: Callable[[dict[str, Any], float], T]) -> T:
        """Run ``fn(state, now)`` atomically on the app's state and persist the state."""


class MemoryLimiterStore:
    """A store for one process (and for tests, which may pass a fake clock)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._states: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._now = now

    def update(self, app_key: str, fn: Callable[[dict[str, Any], float], T]) -> T:
        with self._lock:
            return fn(self._states.setdefault(app_key, {}), self._now())


class TokenBucketLimiter:
    """``acquire`` blocks until a call is allowed; ``record_ban`` parks a scope for everyone."""

    def __init__(
        self,
        store: LimiterStore,
        calls_per_minute: int | Callable[[str], int] = 1000,
        *,
        burst: int | None = None,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self._budget = calls_per_minute
        self._burst = burst
        # like RetryPolicy.max_ban_wait: a longer ban goes back to the caller to reschedule
        self.max_wait = max_wait
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.waits = 0  # acquisitions of this process that had to wait
        self.wait_seconds = 0.0

    def budget(self, app_key: str) -> tuple[float, float]:
        """(burst, refill per second) for the app's calls-per-minute budget."""
        per_minute = self._budget(app_key) if callable(self._budget) else self._budget
        burst = self._burst if self._burst is not None else max(1, per_minute // 20)
        burst = min(burst, per_minute)
        return float(burst), max(per_minute - burst, 1) / 60.0

    def acquire(self, app_key: str, shop_key: str | None = None, *, method: str = "") -> float:
        """Block until a call is allowed; return the seconds waited.

        Raises RateLimited when a stored ban lasts longer than ``max_wait``.
        """
        burst, rate = self.budget(app_key)
        waiter = uuid.uuid4().hex
        shop = shop_key or ""
        started = time.monotonic()
        first = True
        while True:
            look = partial(
                _attempt,
                waiter=waiter,
                shop=shop,
                method=method,
                burst=burst,
                rate=rate,
                first=first,
            )
            outcome, delay = self.store.update(app_key, look)
            if outcome == "granted":
                waited = time.monotonic() - started
                if not first:
                    self.waits += 1
                    self.wait_seconds += waited
                return waited
            if outcome == "banned" and delay > self.max_wait:
                self.store.update(app_key, partial(_leave, waiter=waiter))
                raise RateLimited(
                    f"app budget parked by a ban for {delay:.0f}s more",
                    ban_seconds=int(delay) + 1,
                    scope="app",
                    method=method,
                )
            first = False
            # a little jitter keeps the waiters of many processes from arriving in lockstep
            self.sleep(min(delay, MAX_NAP) + self.rng.uniform(0, TURN_NAP))

    def record_ban(self, app_key: str, scope: str, method: str, seconds: float) -> None:
        key = ban_key(scope, method)
        self.store.update(app_key, partial(_ban, key=key, seconds=seconds))


def ban_key(scope: str, method: str) -> str:
    # For one app, an api or app×api ban both park exactly this app's calls of that method.
    return "app" if scope == "app" else f"api:{method}"


def _ban(state: dict[str, Any], now: float, key: str, seconds: float) -> None:
    bans = state.setdefault("bans", {})
    bans[key] = max(bans.get(key, 0.0), now + seconds)
    state["ban_seconds"] = state.get("ban_seconds", 0.0) + seconds  # for the metrics


def _leave(state: dict[str, Any], now: float, waiter: str) -> None:
    state.get("waiters", {}).pop(waiter, None)


def _attempt(
    state: dict[str, Any],
    now: float,
    *,
    waiter: str,
    shop: str,
    method: str,
    burst: float,
    rate: float,
    first: bool,
) -> tuple[str, float]:
    """One look at the bucket: ("granted", 0) or (reason, seconds worth sleeping)."""
    tokens = state.get("tokens", burst)
    updated = state.get("updated", now)
    state["tokens"] = tokens = min(burst, tokens + max(0.0, now - updated) * rate)
    state["updated"] = now
    waiters = state.setdefault("waiters", {})
    for key, (_, heartbeat, _) in list(waiters.items()):
        if heartbeat < now - WAITER_TTL:
            del waiters[key]
    since = waiters[waiter][2] if waiter in waiters else now
    waiters[waiter] = [shop, now, since]

    bans = {k: v for k, v in state.get("bans", {}).items() if v > now}
    state["bans"] = bans
    ban_end = max(bans.get("app", 0.0), bans.get(f"api:{method}", 0.0))
    if ban_end > now:
        return _waiting(state, first, "banned", ban_end - now)
    if tokens < 1:
        return _waiting(state, first, "tokens", (1 - tokens) / rate)
    served = state.setdefault("served", {})
    next_shop = min(waiters.values(), key=lambda w: (served.get(w[0], 0.0), w[2]))[0]
    if next_shop != shop:
        return _waiting(state, first, "turn", TURN_NAP)
    state["tokens"] = tokens - 1
    if tokens - 1 < burst / 2 or len(waiters) > 1:
        served[shop] = now
    for key, last in list(served.items()):
        if last < now - SERVED_MEMORY:
            del served[key]
    del waiters[waiter]
    return "granted", 0.0


def _waiting(state: dict[str, Any], first: bool, reason: str, delay: float) -> tuple[str, float]:
    if first:
        state["waits"] = state.get("waits", 0) + 1  # shared: how often anyone had to wait
    return reason, delay
