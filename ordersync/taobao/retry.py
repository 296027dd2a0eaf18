"""When to try a failed call again, and how long to sleep first."""

from __future__ import annotations

import random

from ordersync.taobao.errors import RateLimited, TopError, Transient


class RetryPolicy:
    """Capped exponential backoff with jitter for transient errors; bans are waited out.

    ``attempt`` counts the attempts already made (1 after the first failure).
    """

    def __init__(
        self,
        max_attempts: int = 5,
        base: float = 0.5,
        cap: float = 30.0,
        rng: random.Random | None = None,
        max_ban_wait: float = 60.0,
    ) -> None:
        self.max_attempts = max_attempts
        self.base = base
        self.cap = cap
        self.rng = rng or random.Random()
        # A daily-quota ban lasts hours: waiting it out in a worker would block the queue,
        # so longer bans go back to the caller (the shared limiter still holds every call).
        self.max_ban_wait = max_ban_wait

    def should_retry(self, error: TopError, attempt: int) -> bool:
        if attempt >= self.max_attempts:
            return False
        if isinstance(error, RateLimited):
            return error.ban_seconds <= self.max_ban_wait
        return isinstance(error, Transient)

    def sleep_seconds(self, error: TopError, attempt: int) -> float:
        if isinstance(error, RateLimited):
            # Wait the whole ban, plus a little so the fleet does not return at one instant.
            return error.ban_seconds + self.jitter(min(1.0, 0.1 * error.ban_seconds))
        backoff = min(self.cap, self.base * 2.0 ** (attempt - 1))
        return backoff / 2 + self.jitter(backoff / 2)

    def jitter(self, spread: float) -> float:
        """A random extra in ``[0, spread]``; the only randomness, so tests can pin it."""
        return self.rng.uniform(0, spread)
