"""Platform time: GMT+8 wall-clock strings and the sandbox's clock, which tests can move."""

from __future__ import annotations

import calendar
import time

CN_OFFSET = 8 * 3600
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
REAL, MANUAL = "real", "manual"


# Recent seconds already formatted: a change stamps the same second on the trade, its
# sub-orders and its refund, and a large history would keep one string per stamp.
_FORMATTED: dict[int, str] = {}


def fmt(ts: float) -> str:
    """Return ``ts`` (epoch seconds) as ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    second = int(ts)
    text = _FORMATTED.get(second)
    if text is None:
        if len(_FORMATTED) >= 65536:
            _FORMATTED.clear()
        text = _FORMATTED[second] = time.strftime(TIME_FORMAT, time.gmtime(second + CN_OFFSET))
    return text


def parse(text: str) -> int:
    """Return the epoch seconds of a GMT+8 ``yyyy-MM-dd HH:mm:ss`` string (ValueError if bad)."""
    return calendar.timegm(time.strptime(text, TIME_FORMAT)) - CN_OFFSET


class Clock:
    """The sandbox's own clock: real time plus a skew (the platform's clock is wrong) plus
    the time moved on by the control API.

    In ``manual`` mode the real-time part stands still: time passes only when told to, so a
    test meets any lag or timeout at once instead of sleeping through it."""

    def __init__(self, skew_seconds: float = 0.0) -> None:
        self.skew_seconds = skew_seconds
        self.moved_seconds = 0.0
        self.stopped_at: float | None = None  # the real time manual mode froze

    @property
    def mode(self) -> str:
        return REAL if self.stopped_at is None else MANUAL

    def now(self) -> float:
        """Return the platform time in epoch seconds."""
        return self._real() + self.skew_seconds + self.moved_seconds

    def advance(self, seconds: float) -> None:
        """Move the platform time on by ``seconds`` (never back: use :meth:`set`)."""
        if seconds < 0:
            raise ValueError("advance: seconds must not be negative")
        self.moved_seconds += seconds

    def set(self, epoch: float) -> None:
        """Make the platform time ``epoch`` now (it keeps running in real mode)."""
        self.moved_seconds += epoch - self.now()

    def set_mode(self, mode: str) -> None:
        """``manual`` stops the real-time part where it stands; ``real`` lets it run again
        from there (the platform time does not jump)."""
        if mode not in (REAL, MANUAL):
            raise ValueError(f"mode: {REAL!r} or {MANUAL!r}")
        if mode == self.mode:
            return
        now = self.now()
        self.stopped_at = time.time() if mode == MANUAL else None
        self.set(now)

    def _real(self) -> float:
        return time.time() if self.stopped_at is None else self.stopped_at

    def __setstate__(self, state: dict) -> None:
        # snapshots written before the clock could be moved
        self.__dict__.update({"moved_seconds": 0.0, "stopped_at": None, **state})
