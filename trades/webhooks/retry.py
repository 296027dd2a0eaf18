"""The retry ladder: when a failed delivery is tried again, and when it is given up."""

from __future__ import annotations

import random
from collections.abc import Callable

from django.conf import settings

JITTER = 0.2  # each wait is drawn from ±20% of its step, so a burst of failures spreads out


def should_retry(attempt: int) -> bool:
    """Whether a delivery whose attempt number ``attempt`` (1-based) failed gets another."""
    return attempt <= len(settings.WEBHOOKS_RETRY_SECONDS)


def sleep_seconds(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt ``attempt``; ``rand`` in [0, 1) is the jitter."""
    ladder = settings.WEBHOOKS_RETRY_SECONDS
    step = ladder[min(attempt, len(ladder)) - 1]
    return step * (1 - JITTER + 2 * JITTER * rand())


def ladder_seconds() -> float:
    """The nominal time from the first attempt to the last."""
    return sum(settings.WEBHOOKS_RETRY_SECONDS)
