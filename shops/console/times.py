"""Times in console pages: full with the offset on a detail page, short in a list whose
column header names the zone (lists must fit a 1366-px laptop)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from ordersync.shown import offset, shown, zone


def short(value: datetime | None, empty: str = "—") -> str:
    """``11-11 00:00:03`` in the display zone; the column header names its offset."""
    if value is None:
        return empty
    return f"{value.astimezone(zone()):%m-%d %H:%M:%S}"


def in_zone(label: str) -> str:
    """A column header that names the display zone's offset: ``created (+08:00)``."""
    return f"{label} ({offset(timezone.now().astimezone(zone()))})"


def duration(start: datetime | None, end: datetime | None) -> str:
    """``2.4 s``, ``3 min 5 s``; ``running for …`` while there is no end."""
    if start is None:
        return "—"
    if end is None:
        return f"running for {seconds_text(timezone.now() - start)}"
    return seconds_text(end - start)


def seconds_text(value: timedelta) -> str:
    seconds = max(0.0, value.total_seconds())
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def window(start: datetime | None, end: datetime | None) -> str:
    """``2026-11-11 00:00:00 +08:00 → 2026-11-11 00:30:00 +08:00 (30 min 0 s)``."""
    if start is None and end is None:
        return "—"
    width = f" ({seconds_text(end - start)})" if start and end else ""
    return f"{shown(start)} → {shown(end)}{width}"
