"""Platform time: GMT+8 wall-clock strings and a skewable sandbox clock."""

from __future__ import annotations

import calendar
import time

CN_OFFSET = 8 * 3600
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def fmt(ts: float) -> str:
    """Return ``ts`` (epoch seconds) as ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    return time.strftime(TIME_FORMAT, time.gmtime(int(ts) + CN_OFFSET))


def parse(text: str) -> int:
    """Return the epoch seconds of a GMT+8 ``yyyy-MM-dd HH:mm:ss`` string (ValueError if bad)."""
    return calendar.timegm(time.strptime(text, TIME_FORMAT)) - CN_OFFSET


class Clock:
    """The sandbox's own clock: real time plus a configurable skew."""

    def __init__(self, skew_seconds: float = 0.0) -> None:
        self.skew_seconds = skew_seconds

    def now(self) -> float:
        """Return the platform time in epoch seconds."""
        return time.time() + self.skew_seconds
