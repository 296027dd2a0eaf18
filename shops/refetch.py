"""What a targeted re-pull may ask for: up to 100 trade ids, or one window of modified time
within the platform's limits. The API, the console and ``manage.py refetch`` check requests
here, so each refuses the same input with the same message.

The window limits are those of ``taobao.trades.sold.increment.get`` (docs/platform.md §4.2):
at most one day wide, end after start, inside the platform's 3-month scope.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from ordersync.taobao.types import PLATFORM_TZ

MAX_TIDS = 100
MAX_WINDOW = timedelta(days=1)
SCOPE = timedelta(days=90)


class BadRefetch(ValueError):
    """The request is not one the re-pull can run; the message says why."""


def parse_tids(values: object) -> list[int]:
    """Trade ids from numbers, digit strings, or one string of ids separated by commas,
    spaces or new lines; duplicates dropped, order kept."""
    if isinstance(values, str):
        values = [v for v in re.split(r"[\s,;]+", values) if v]
    if not isinstance(values, list) or not values:
        raise BadRefetch(_("tids must be a non-empty list of trade ids"))
    tids = [_tid(value) for value in values]
    tids = list(dict.fromkeys(tids))
    if len(tids) > MAX_TIDS:
        raise BadRefetch(
            _("%(count)d tids given; at most %(most)d per job")
            % {"count": len(tids), "most": MAX_TIDS}
        )
    return tids


def _tid(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRefetch(_("%(value)r is not a trade id (a positive integer)") % {"value": value})
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0 or len(text) > 19:
        raise BadRefetch(_("%(value)r is not a trade id (a positive integer)") % {"value": value})
    return int(text)


def parse_time(value: object, name: str) -> datetime:
    """An ISO 8601 time; one without an offset is platform time (Asia/Shanghai)."""
    parsed: datetime | None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = parse_datetime(str(value).strip().replace(" ", "T", 1))
        except ValueError:
            parsed = None
    if parsed is None:
        raise BadRefetch(
            _("%(name)s %(value)r is not a time (ISO 8601, e.g. 2026-11-11T10:00:00+08:00)")
            % {"name": name, "value": value}
        )
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=PLATFORM_TZ)
    return parsed


def check_window(start: datetime, end: datetime, now: datetime | None = None) -> None:
    """Raise :class:`BadRefetch` for a window the platform would refuse."""
    now = now or timezone.now()
    if end <= start:
        raise BadRefetch(_("modified_before must be after modified_after"))
    if end - start > MAX_WINDOW:
        raise BadRefetch(
            _("the window is %(width)s wide; the platform lists at most %(most)s at once")
            % {"width": end - start, "most": MAX_WINDOW}
        )
    if start < now - SCOPE:
        raise BadRefetch(
            _("modified_after is before the platform's scope (the last %(days)d days)")
            % {"days": SCOPE.days}
        )
    if start >= now:
        raise BadRefetch(_("modified_after is in the future"))


def refetch_params(
    tids: object = None,
    modified_after: object = None,
    modified_before: object = None,
    now: datetime | None = None,
) -> dict:
    """The job's arguments (JSON-ready) from a request of tids or of a window, checked."""
    window = modified_after is not None or modified_before is not None
    if (tids is not None) == window:
        raise BadRefetch(_("give either tids, or modified_after and modified_before"))
    if tids is not None:
        return {"tids": parse_tids(tids)}
    if modified_after is None or modified_before is None:
        raise BadRefetch(_("a window needs both modified_after and modified_before"))
    start = parse_time(modified_after, "modified_after")
    end = parse_time(modified_before, "modified_before")
    check_window(start, end, now)
    return {"modified_after": start.isoformat(), "modified_before": end.isoformat()}
