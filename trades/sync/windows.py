"""Which platform-time window a run reads next (the no-loss rule 2, as pure functions).

Window = ``[cursor − overlap, min(cursor + width, now − lag)]``. The overlap re-reads the
seconds around the last boundary and changes that became visible late; the lag keeps the
window out of the part of the platform's index that is still filling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MIN_WIDTH = timedelta(minutes=1)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def halves(self) -> tuple[Window, Window]:
        """Two windows that cover this one; they share the middle second (bounds are inclusive)."""
        middle = (self.start + (self.end - self.start) / 2).replace(microsecond=0)
        middle = max(middle, self.start + timedelta(seconds=1))
        return Window(self.start, middle), Window(middle, self.end)


def next_window(
    cursor: datetime, now: datetime, *, overlap: timedelta, lag: timedelta, width: timedelta
) -> Window | None:
    """The next window to read, or None when there is nothing new to read yet."""
    end = min(cursor + width, now - lag).replace(microsecond=0)
    if end <= cursor:
        return None
    return Window(cursor - overlap, end)


def narrower(width: timedelta) -> timedelta:
    """Half the width, never under a minute: for windows that held too much or timed out."""
    return max(MIN_WIDTH, width / 2)


def wider(width: timedelta, limit: timedelta) -> timedelta:
    """Twice the width, up to ``limit``: windows grow back when the shop is quiet again."""
    return min(limit, width * 2)
