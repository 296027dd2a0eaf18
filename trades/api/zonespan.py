"""The stretch of time around now in which a time zone keeps one UTC offset, as Python's
``zoneinfo`` (so DRF) sees it, and the SQL that renders a datetime inside it.

Inside the stretch a datetime's rendering is its UTC wall time moved by that one offset and
followed by the offset's text: PostgreSQL writes that with one ``to_char`` and no zone lookup,
about a quarter of a ``trades_isoformat`` call (migration 0036), which stays for the moments
outside. Most zones keep one offset for decades (Asia/Shanghai since 1991, UTC always), so
the lists' datetimes nearly all fall inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from django.utils import timezone
from rest_framework.fields import DateTimeField

# No zone has changed its offset and back within one day: sampled daily, every change is seen.
STEP = timedelta(days=1)
FIRST = datetime(1900, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=366 * 30)
TO_CHAR = 'YYYY-MM-DD"T"HH24:MI:SS.US'


@dataclass(frozen=True)
class Span:
    """``[start, end)``: the zone's offset is ``offset`` throughout; ``suffix`` is how DRF
    writes it after the seconds (``Z`` for zero)."""

    start: datetime
    end: datetime
    offset: timedelta
    suffix: str


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _change(zone: ZoneInfo, same: datetime, other: datetime) -> datetime:
    """The first instant after ``same`` with ``other``'s offset (bisected to the microsecond)."""
    low, high = same, other  # the offset changes in (low, high]
    kept = _offset(zone, same)
    while abs(high - low) > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if _offset(zone, middle) == kept:
            low = middle
        else:
            high = middle
    # back in time ``low`` is the span's first instant, forward ``high`` is the one after it
    return max(low, high)


def _edge(zone: ZoneInfo, now: datetime, step: timedelta, limit: datetime) -> datetime:
    """Where the offset of ``now`` ends going by ``step``, or ``limit`` if it holds until."""
    kept, moment = _offset(zone, now), now
    while (moment < limit) if step > timedelta(0) else (moment > limit):
        following = moment + step
        if _offset(zone, following) != kept:
            return _change(zone, moment, following)
        moment = following
    return limit


@cache
def span(zone_name: str, now: datetime | None = None) -> Span | None:
    """The span of one offset around ``now`` in ``zone_name`` (``None``: none fits SQL)."""
    zone = ZoneInfo(zone_name)
    now = (now or timezone.now()).replace(microsecond=0)
    offset = _offset(zone, now)
    if offset % timedelta(seconds=1):
        return None  # an offset with microseconds: rendered by trades_isoformat alone
    start = _edge(zone, now, -STEP, FIRST)
    end = _edge(zone, now, STEP, now + AHEAD)
    with timezone.override(zone):
        suffix = DateTimeField().to_representation(now)[len("YYYY-MM-DDTHH:MM:SS") :]
    return Span(start, end, offset, suffix)


def isoformat_sql(column: str, zone_name: str, zone: str) -> str:
    """SQL for DRF's rendering of the timestamptz ``column`` in ``zone_name`` (``zone``: the
    same as an SQL literal): the span's arithmetic inside it, ``trades_isoformat`` outside."""
    general = f"trades_isoformat({column}, {zone})"
    found = span(zone_name)
    if found is None:
        return general
    seconds = int(found.offset.total_seconds())
    local = f"({column} AT TIME ZONE 'UTC') + interval '{seconds} seconds'"
    inside = f"replace(to_char({local}, '{TO_CHAR}'), '.000000', '') || '{found.suffix}'"
    return (
        f"CASE WHEN {column} >= TIMESTAMPTZ '{found.start.isoformat()}'"
        f" AND {column} < TIMESTAMPTZ '{found.end.isoformat()}'"
        f" THEN {inside} ELSE {general} END"
    )
