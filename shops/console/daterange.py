"""A time-range filter for the console's lists: Django's date links plus "from … to …".

The bounds are platform time (the console's TIME_ZONE): ``2026-11-11`` is that day's
midnight in Asia/Shanghai, ``2026-11-11 10:30`` that minute; "to" is exclusive.
"""

from __future__ import annotations

from datetime import datetime, time

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


def aware_bound(text: str) -> datetime:
    """``text`` (a date, or a date and time, with or without an offset) as an aware time."""
    text = text.strip().replace("T", " ")
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise IncorrectLookupParameters(f"{text!r} is not a date or a date and time")
    moment = moment or datetime.combine(day, time(0))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class DateRangeFilter(admin.DateFieldListFilter):
    template = "admin/date_range_filter.html"

    def queryset(self, request, queryset):
        bounds = {}
        for key in (self.lookup_kwarg_since, self.lookup_kwarg_until):
            values = self.used_parameters.get(key) or []
            if values and values[-1]:
                bounds[key] = aware_bound(str(values[-1]))
        return queryset.filter(**bounds)

    def choices(self, changelist):
        # the form keeps every other filter of the page as it is
        self.kept = [
            (key, value)
            for key, value in changelist.params.items()
            if not key.startswith(self.field_generic) and key not in ("p", "e")
        ]
        self.since = self.date_params.get(self.lookup_kwarg_since, "")
        self.until = self.date_params.get(self.lookup_kwarg_until, "")
        yield from super().choices(changelist)
