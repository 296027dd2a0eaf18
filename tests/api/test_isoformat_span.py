"""The lists' SQL for a datetime (one offset's arithmetic inside the zone's span around now,
``trades_isoformat`` outside) gives DRF's rendering byte for byte, at the span's edges too."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.fields import DateTimeField

from tests.api.test_isoformat_sql import ZONES, _around, _random_moments, _transitions
from trades.api import zonespan

pytestmark = pytest.mark.django_db


def _inside(found: zonespan.Span, count: int = 500) -> list:
    draw = random.Random(20261207)
    span = int((found.end - found.start) / timedelta(microseconds=1))
    moments = [found.start + timedelta(microseconds=draw.randrange(span)) for _ in range(count)]
    return [m if n % 2 else m.replace(microsecond=0) for n, m in enumerate(moments)]


def _edges(found: zonespan.Span) -> list:
    tiny = (timedelta(0), timedelta(microseconds=1), timedelta(seconds=1), timedelta(hours=3))
    return [edge + sign * delta for edge in (found.start, found.end) for delta in tiny
            for sign in (1, -1)]  # fmt: skip


@pytest.mark.parametrize("zone", [*ZONES, "Asia/Kathmandu"])
def test_span_sql_is_drfs_rendering(zone):
    found = zonespan.span(zone)
    assert found is not None and found.start < timezone.now() < found.end
    moments = _random_moments(2000) + _around(_transitions(ZoneInfo(zone))) + _edges(found)
    moments += _inside(found)
    sql = zonespan.isoformat_sql("v.m", zone, "%s")
    with connection.cursor() as db:
        db.execute(
            f"SELECT {sql}, v.m >= %s AND v.m < %s"
            " FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS v(m, n) ORDER BY n",
            [zone, found.start, found.end, moments],
        )
        rows = db.fetchall()
    with timezone.override(zone):
        rendered = [DateTimeField().to_representation(moment) for moment in moments]
    assert sum(inside for _text, inside in rows) >= 500  # the arithmetic was what was tested
    formatted = [text for text, _inside in rows]
    mismatches = [(m, f, r) for m, f, r in zip(moments, formatted, rendered, strict=True) if f != r]
    assert not mismatches, mismatches[:5]


def test_span_is_the_stretch_of_one_offset():
    found = zonespan.span("Asia/Shanghai")
    zone = ZoneInfo("Asia/Shanghai")
    assert found.offset == timedelta(hours=8) and found.suffix == "+08:00"
    # daylight saving ended on 1991-09-15 at 02:00 local (+09:00)
    assert found.start.astimezone(zone).utcoffset() == timedelta(hours=8)
    assert (found.start - timedelta(microseconds=1)).astimezone(zone).utcoffset() == timedelta(
        hours=9
    )
    assert zonespan.span("UTC").suffix == "Z"
