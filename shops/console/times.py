"""Times in console pages: full with the offset on a detail page, short in a list whose
column header names the zone (lists must fit a 1366-px laptop); spans in words."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _

from ordersync.shown import offset, shown, zone

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def short(value: datetime | None, empty: str = "—") -> str:
    """``11-11 00:00:03`` in the display zone; the column header names its offset."""
    if value is None:
        return empty
    return f"{value.astimezone(zone()):%m-%d %H:%M:%S}"


def in_zone(label: StrOrPromise) -> StrOrPromise:
    """A column header that names the display zone's offset: ``created (+08:00)``; in the
    language of the page that shows it."""
    return format_lazy("{} ({})", label, offset(timezone.now().astimezone(zone())))


def duration(start: datetime | None, end: datetime | None) -> str:
    """``2.4 s``, ``3 min 5 s``; ``running for …`` while there is no end."""
    if start is None:
        return "—"
    if end is None:
        return _("running for %(span)s") % {"span": seconds_text(timezone.now() - start)}
    return seconds_text(end - start)


def seconds_text(value: timedelta) -> str:
    """A span in words: ``2.4 s``, ``3 min 5 s``, ``2 h 10 min`` (``3 分 5 秒`` in Chinese)."""
    seconds = max(0.0, value.total_seconds())
    if seconds < 60:
        return _("%(seconds).1f s") % {"seconds": seconds}
    if seconds < 3600:
        return _("%(minutes)d min %(seconds)d s") % {
            "minutes": seconds // 60,
            "seconds": seconds % 60,
        }
    return _("%(hours)d h %(minutes)d min") % {
        "hours": seconds // 3600,
        "minutes": seconds % 3600 // 60,
    }


def window(start: datetime | None, end: datetime | None) -> str:
    """``2026-11-11 00:00:00 +08:00 → 2026-11-11 00:30:00 +08:00 (30 min 0 s)``."""
    if start is None and end is None:
        return "—"
    width = f" ({seconds_text(end - start)})" if start and end else ""
    return f"{shown(start)} → {shown(end)}{width}"
