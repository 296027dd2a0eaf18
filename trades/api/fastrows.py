"""The hot lists built as JSON by PostgreSQL: each row comes back as the text of the object
its serializer would render, and the page is those texts joined.

Listing 100 trades with their sub-orders (or 1,000 changes) through ModelSerializer and DRF's
renderer spends most of its time parsing columns into Python values, building dicts and
encoding them again. Here PostgreSQL writes each object with ``row_to_json`` in the
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
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection, models
from django.utils import timezone

from trades.api import serializers as s
from trades.api import zonespan
from trades.api.pagination import decode_cursor, encode_cursor
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
    """SQL for DRF's rendering of a timestamptz ``column`` in ``zone`` (an SQL literal):
    arithmetic in the span of one offset around now, ``trades_isoformat`` (migrations 0035,
    0036) outside it."""
    return zonespan.isoformat_sql(column, zone.strip("'"), zone)


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

    def columns(self, names: Iterable[str], zone: str, extra: dict[str, str] | None = None) -> str:
        """The select list of ``names`` in that order, each named as its field (``extra``: more
        SQL by name); ``row_to_json`` of a row of it is the object."""
        columns = []
        for name in names:
            if extra and name in extra:
                expression = extra[name]
            else:
                column, zoned = self.expressions[name]
                expression = _isoformat(column, zone) if zoned else column
            columns.append(f'{expression} AS "{name}"')
        return ", ".join(columns)


def _object(columns: str) -> str:
    # row_to_json of a subquery's row: far cheaper per row than json_build_object
    return f"(SELECT row_to_json(o)::text FROM (SELECT {columns}) o)"


TRADE_JSON = JsonFormat(Trade, s.TRADE_FIELDS, Trade._meta.db_table)
LINE_JSON = JsonFormat(TradeLine, s.TradeLineSerializer.Meta.fields, "l")
CHANGE_JSON = JsonFormat(ChangeEvent, s.ChangeSerializer.Meta.fields, "e")
TRADE_NAMES = (*s.TRADE_FIELDS, "lines")
CHANGE_NAMES = tuple(s.ChangeSerializer.Meta.fields)


@cache
def _trade_sql(names: tuple[str, ...], zone: str) -> str:
    line = LINE_JSON.columns(LINE_JSON.expressions, zone)
    lines = (
        f"(SELECT coalesce(json_agg(x), '[]') FROM (SELECT {line}"
        f" FROM {TradeLine._meta.db_table} l WHERE l.trade_id = {Trade._meta.db_table}.id"
        " ORDER BY l.oid, l.id) x)"
    )
    return _object(TRADE_JSON.columns(names, zone, {"lines": lines}))


@cache
def change_sql(names: tuple[str, ...], zone: str) -> str:
    """The text of each change's object, in a query that names the change table ``e``."""
    return _object(CHANGE_JSON.columns(names, zone))


# ORM lookups of the list's filters (trades.api.filters.LOOKUPS) as SQL operators
OPERATORS = {"": "=", "gte": ">=", "lt": "<"}
TRADE_ORDER = ("modified", "id")  # both descending: trade_tenant_modified_idx
# the cursor's values come back as numbers: only the last row's become a datetime
_ORDER_VALUES = "(extract(epoch FROM modified) * 1000000)::bigint, id"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def trade_page(
    tenant_id: int,
    lookups: dict[str, Any],
    cursor: str | None,
    limit: int,
    names: Sequence[str] | None,
) -> tuple[list[str], str | None]:
    """One page of the tenant's trades, newest change first, each the text of its object with
    ``names`` (``None``: all fields), and the next page's cursor (``None``: the last page).

    The ORM query of the same page cost more to build than PostgreSQL took to run it, so the
    statement is written here: ``lookups`` are ``field`` or ``field__gte``/``field__lt``.
    """
    where, params = [f"{Trade._meta.db_table}.tenant_id = %s"], [tenant_id]
    for lookup, value in lookups.items():
        name, _, operator = lookup.partition("__")
        column = Trade._meta.get_field(name).column
        where.append(f"{Trade._meta.db_table}.{column} {OPERATORS[operator]} %s")
        params.append(value)
    if cursor:
        where.append(f"({', '.join(TRADE_ORDER)}) < (%s, %s)")
        params += decode_cursor(cursor, Trade, TRADE_ORDER)
    objects = _trade_sql(tuple(names or TRADE_NAMES), zone_literal())
    sql = (
        f"SELECT {_ORDER_VALUES}, {objects}"
        f" FROM {Trade._meta.db_table} WHERE {' AND '.join(where)}"
        f" ORDER BY {', '.join(f'{column} DESC' for column in TRADE_ORDER)} LIMIT %s"
    )
    with connection.cursor() as db:
        db.execute(sql, [*params, limit + 1])
        rows = db.fetchall()
    if len(rows) <= limit:
        return [row[-1] for row in rows], None
    microseconds, last_id, _object = rows[limit - 1]
    last = [_EPOCH + timedelta(microseconds=microseconds), last_id]
    return [row[-1] for row in rows[:limit]], encode_cursor(last)


def page_body(objects: Iterable[str], next_cursor: str | None, has_more: bool) -> bytes:
    """A list page's body from its rows' JSON texts, as DRF's JSONRenderer lays it out."""
    tail = json.dumps({"next_cursor": next_cursor, "has_more": has_more}, separators=(",", ":"))
    return f'{{"results":[{",".join(objects)}],{tail[1:]}'.encode()
