"""The hot lists built as JSON by PostgreSQL: each row comes back as the text of the object
its serializer would render, and the page is those texts joined.

Listing 100 trades with their sub-orders (or 1,000 changes) through ModelSerializer and DRF's
renderer spends most of its time parsing columns into Python values, building dicts and
encoding them again. Here PostgreSQL writes each object with ``json_build_object`` in the
serializer's field order, formatting every value as DRF does (tests hold the output equal to
:class:`~trades.api.serializers.TradeSerializer` and
:class:`~trades.api.serializers.ChangeSerializer`):

- a datetime: ISO 8601 in the current time zone, microseconds only when there are some,
  ``Z`` for UTC (DRF's DateTimeField); the offset is the zone's at that moment;
- a decimal: a string with the field's decimal places (the column's scale);
- an ``<id>_str`` field: the id column as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import cache

from django.db import models
from django.db.models.expressions import RawSQL
from django.utils import timezone

from trades.api import serializers as s
from trades.feed.models import ChangeEvent
from trades.models import Trade, TradeLine

_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-/]+")


def zone_literal() -> str:
    """The current time zone's name as an SQL literal (IANA names only: no quoting needed)."""
    name = timezone.get_current_timezone_name()
    if not _ZONE_NAME.fullmatch(name):
        raise ValueError(f"time zone {name!r} has no IANA name PostgreSQL would know")
    return f"'{name}'"


def _isoformat(column: str, zone: str) -> str:
    """SQL for DRF's rendering of a timestamptz ``column`` in ``zone`` (NULL stays NULL)."""
    local = f"({column} AT TIME ZONE {zone})"
    offset = f"extract(epoch FROM {local} - ({column} AT TIME ZONE 'UTC'))::int"
    return (
        f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN date_trunc('second', {column}) = {column} THEN ''"
        f" ELSE to_char({local}, '.US') END"
        f" || CASE WHEN {offset} = 0 THEN 'Z'"
        f" ELSE CASE WHEN {offset} < 0 THEN '-' ELSE '+' END"
        f" || to_char(make_interval(secs => abs({offset})), 'HH24:MI')"
        f" || CASE WHEN mod({offset}, 60) = 0 THEN ''"
        f" ELSE to_char(make_interval(secs => abs({offset})), ':SS') END END"
    )


class JsonFormat:
    """The SQL of the JSON object a serializer with ``fields`` renders for a row of ``model``
    whose table is named ``alias`` in the query."""

    def __init__(self, model: type[models.Model], fields: Sequence[str], alias: str) -> None:
        self.expressions: dict[str, tuple[str, bool]] = {}  # name: (SQL, needs the zone)
        for name in fields:
            if name.endswith("_str"):  # serializers.string_id: the id column as text
                column = model._meta.get_field(name[:-4]).column
                self.expressions[name] = (f"{alias}.{column}::text", False)
                continue
            field = model._meta.get_field(name)
            column = f"{alias}.{field.column}"
            if isinstance(field, models.DateTimeField):
                self.expressions[name] = (column, True)
            elif isinstance(field, models.DecimalField):
                self.expressions[name] = (f"{column}::text", False)
            else:
                self.expressions[name] = (column, False)

    def sql(self, names: Iterable[str], zone: str, extra: dict[str, str] | None = None) -> str:
        """``json_build_object(…)`` of ``names`` in that order (``extra``: more SQL by name)."""
        pairs = []
        for name in names:
            if extra and name in extra:
                expression = extra[name]
            else:
                column, zoned = self.expressions[name]
                expression = _isoformat(column, zone) if zoned else column
            pairs.append(f"'{name}', {expression}")
        return f"json_build_object({', '.join(pairs)})"


TRADE_JSON = JsonFormat(Trade, s.TRADE_FIELDS, Trade._meta.db_table)
LINE_JSON = JsonFormat(TradeLine, s.TradeLineSerializer.Meta.fields, "l")
CHANGE_JSON = JsonFormat(ChangeEvent, s.ChangeSerializer.Meta.fields, "e")
TRADE_NAMES = (*s.TRADE_FIELDS, "lines")
CHANGE_NAMES = tuple(s.ChangeSerializer.Meta.fields)


@cache
def _trade_sql(names: tuple[str, ...], zone: str) -> str:
    lines = (
        f"(SELECT coalesce(json_agg({LINE_JSON.sql(LINE_JSON.expressions, zone)}"
        f" ORDER BY l.oid, l.id), '[]') FROM {TradeLine._meta.db_table} l"
        f" WHERE l.trade_id = {Trade._meta.db_table}.id)"
    )
    return f"{TRADE_JSON.sql(names, zone, {'lines': lines})}::text"


@cache
def change_sql(names: tuple[str, ...], zone: str) -> str:
    """The text of each change's object, in a query that names the change table ``e``."""
    return f"{CHANGE_JSON.sql(names, zone)}::text"


def trade_values(queryset: models.QuerySet, names: Sequence[str] | None) -> models.QuerySet:
    """The trades as ``.values()`` rows of their ordering columns and ``json``: the text of
    each trade with its sub-orders, with ``names`` (``None``: all fields)."""
    sql = _trade_sql(tuple(names or TRADE_NAMES), zone_literal())
    return queryset.annotate(json=RawSQL(sql, [])).values("id", "modified", "json")


def page_body(objects: Iterable[str], next_cursor: str | None, has_more: bool) -> bytes:
    """A list page's body from its rows' JSON texts, as DRF's JSONRenderer lays it out."""
    tail = json.dumps({"next_cursor": next_cursor, "has_more": has_more}, separators=(",", ":"))
    return f'{{"results":[{",".join(objects)}],{tail[1:]}'.encode()
