"""The trade list without model instances: ``.values()`` rows straight to JSON-ready dicts.

Listing 100 trades with their sub-orders through ModelSerializer spends most of its time
building model instances and per-row querysets. This renders the same output (a test holds
it equal to :class:`~trades.api.serializers.TradeSerializer`) at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.utils import timezone

from trades.api import serializers as s
from trades.feed.models import ChangeEvent
from trades.models import Trade, TradeLine


def _datetime(value: datetime | None) -> str | None:
    # as DRF's DateTimeField: local time zone, ISO 8601, "Z" for UTC
    if not value:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _decimal(places: int) -> Callable[[Any], str | None]:
    quantum = Decimal(1).scaleb(-places)

    def render(value: Decimal | None) -> str | None:
        return None if value is None else f"{value.quantize(quantum):f}"

    return render


def _string(value: object) -> str | None:
    return None if value is None else str(value)


class RowFormat:
    """Renders ``.values()`` rows of ``model`` as a serializer with ``fields`` would."""

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        self.fields = []
        for name in fields:
            if name.endswith("_str"):  # serializers.string_id: the id column as text
                self.fields.append((name, model._meta.get_field(name[:-4]).attname, _string))
                continue
            field = model._meta.get_field(name)
            if isinstance(field, models.DateTimeField):
                render = _datetime
            elif isinstance(field, models.DecimalField):
                render = _decimal(field.decimal_places)
            else:
                render = None
            self.fields.append((name, field.attname, render))
        self.columns = list(dict.fromkeys(attname for _, attname, _ in self.fields))

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            name: render(row[column]) if render else row[column]
            for name, column, render in self.fields
        }


TRADE_FORMAT = RowFormat(Trade, s.TRADE_FIELDS)
LINE_FORMAT = RowFormat(TradeLine, s.TradeLineSerializer.Meta.fields)
CHANGE_FORMAT = RowFormat(ChangeEvent, s.ChangeSerializer.Meta.fields)


def trade_values(queryset: models.QuerySet) -> models.QuerySet:
    """The columns :func:`render_trades` needs (``id`` links the sub-orders)."""
    return queryset.values("id", *TRADE_FORMAT.columns)


# Built once: compiling the ORM query cost more than running it. The columns need no
# conversion from the database (numbers, text and numerics come back as Python types).
_LINES_SQL = (
    f"SELECT trade_id, {', '.join(LINE_FORMAT.columns)} FROM {TradeLine._meta.db_table} "
    "WHERE trade_id = ANY(%s) ORDER BY trade_id, oid, id"
)


def render_trades(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trades with their sub-orders, in one query for all the sub-orders."""
    lines: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
    if lines:
        names = ["trade_id", *LINE_FORMAT.columns]
        with connection.cursor() as cursor:
            cursor.execute(_LINES_SQL, [list(lines)])
            for values in cursor.fetchall():
                line = dict(zip(names, values, strict=True))
                lines[line["trade_id"]].append(LINE_FORMAT(line))
    return [{**TRADE_FORMAT(row), "lines": lines[row["id"]]} for row in rows]


def render_changes(events: Sequence[ChangeEvent]) -> list[dict[str, Any]]:
    """Change events as :class:`~trades.api.serializers.ChangeSerializer` renders them: a
    feed page of 1,000 through the serializer cost several times its query."""
    return [CHANGE_FORMAT(vars(event)) for event in events]
