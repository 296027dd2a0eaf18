"""``trades_isoformat`` (the SQL the lists written by PostgreSQL format datetimes with) gives
DRF's rendering of the same instant in the same zone, byte for byte."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.fields import DateTimeField

pytestmark = pytest.mark.django_db

# UTC ("Z"), east and west, half-hour offsets, daylight saving, zero offset in winter ("Z"
# too), and local mean times whose offsets have seconds (Monrovia until 1972, Shanghai 1900)
ZONES = [
    "Asia/Shanghai",
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "America/St_Johns",
    "Africa/Monrovia",
]
FIRST, LAST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _random_moments(count: int) -> list[datetime]:
    draw = random.Random(20261206)
    span = int((LAST - FIRST).total_seconds())
    moments = []
    for n in range(count):
        moment = FIRST + timedelta(seconds=draw.randrange(span))
        if n % 2:  # half with microseconds, some with trailing zeros in them
            moment += timedelta(microseconds=draw.choice([draw.randrange(1, 10**6), 500000, 10]))
        moments.append(moment)
    return moments


def _transitions(zone: ZoneInfo) -> list[datetime]:
    """Every instant of 1900–2100 at which the zone's offset changes (DST, LMT ending)."""
    found, step, moment = [], timedelta(days=7), FIRST
    while moment < LAST:
        after = moment + step
        if moment.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            low, high = moment, after  # the change is in (low, high]: halve to the second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle -= timedelta(microseconds=middle.microsecond)
                same = middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            found.append(high)
        moment = after
    return found


def _around(moments: list[datetime]) -> list[datetime]:
    nearby = (timedelta(0), timedelta(microseconds=-1), timedelta(seconds=-1), timedelta(hours=1))
    return [moment + delta for moment in moments for delta in nearby]


@pytest.mark.parametrize("zone", ZONES)
def test_sql_isoformat_is_drfs_rendering(zone):
    transitions = _transitions(ZoneInfo(zone))
    if zone != "UTC":
        assert transitions, zone  # the zone's changes were found: they are tested below
    moments = _random_moments(2000) + _around(transitions)
    with connection.cursor() as db:
        db.execute(
            "SELECT trades_isoformat(m, %s) FROM unnest(%s::timestamptz[]) WITH ORDINALITY"
            " AS v(m, n) ORDER BY n",
            [zone, moments],
        )
        formatted = [text for (text,) in db.fetchall()]
        db.execute("SELECT trades_isoformat(NULL, %s)", [zone])
        assert db.fetchone() == (None,)
    with timezone.override(zone):
        rendered = [DateTimeField().to_representation(moment) for moment in moments]
    mismatches = [(m, f, r) for m, f, r in zip(moments, formatted, rendered, strict=True) if f != r]
    assert not mismatches, mismatches[:5]


def test_the_function_is_costed_as_the_cheap_expression_it_replaced():
    """At a PL/pgSQL function's default cost (100) the change feed's pages slowed with the
    size of the table (7,525 against 14,733 changes/s at 300,000, migration 0036)."""
    with connection.cursor() as db:
        db.execute("SELECT procost FROM pg_proc WHERE proname = 'trades_isoformat'")
        assert db.fetchall() == [(1.0,)]
