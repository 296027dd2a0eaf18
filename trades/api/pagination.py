"""Keyset pagination: every list is ordered by a unique key and resumes after its last row.

No OFFSET: the cost of a page does not depend on how deep it is, and rows inserted while a
client pages never shift it onto rows it has already seen.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Model
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


class RowCompare(models.Func):
    """``(a, b) < (x, y)``: a single index range, where the equivalent OR of ANDs is not."""

    output_field = models.BooleanField()
    conditional = True
    template = "%(expressions)s"

    def __init__(self, columns: Sequence[str], operator: str, values: Sequence[Any]) -> None:
        self.arg_joiner = f" {operator} "
        super().__init__(
            models.Func(*[models.F(c) for c in columns], template="(%(expressions)s)"),
            models.Func(*[models.Value(v) for v in values], template="(%(expressions)s)"),
        )


class InvalidPageCursor(ValueError):
    pass


def _encode(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, fields: list[models.Field]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError
        decoded = [field.to_python(value) for field, value in zip(fields, values, strict=True)]
        # every datetime must exist in UTC too (year 1 at +14:00 does not)
        decoded = [v.astimezone(UTC) if isinstance(v, datetime) else v for v in decoded]
    except (binascii.Error, ValueError, TypeError, OverflowError, ValidationError):
        # OverflowError: 1e400 or Infinity given for an integer, or a date past datetime's range
        raise InvalidPageCursor("not a cursor of this list") from None
    if not all(_in_range(v) for v in decoded):
        raise InvalidPageCursor("not a cursor of this list")
    return decoded


def decode_cursor(cursor: str, model: type[Model], names: Sequence[str]) -> list[Any]:
    """The values of ``names`` (fields of ``model``) a cursor of :func:`keyset_page` holds."""
    return _decode(cursor, [model._meta.get_field(name) for name in names])


def encode_cursor(values: Sequence[object]) -> str:
    return _encode([_cursor_value(value) for value in values])


def _in_range(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, datetime):
        return value.tzinfo is not None
    if isinstance(value, int):
        return BIGINT_MIN <= value <= BIGINT_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def keyset_page(
    queryset: models.QuerySet, ordering: Sequence[str], cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Return up to ``limit`` rows after ``cursor`` and the cursor of the next page, if any.

    ``ordering`` must end in a unique field and go one way (all ascending or all descending).
    Rows may be model instances or ``.values()`` dicts holding the ordering fields.
    """
    descending = ordering[0].startswith("-")
    names = [name.lstrip("-") for name in ordering]
    if cursor:
        values = decode_cursor(cursor, queryset.model, names)
        queryset = queryset.filter(RowCompare(names, "<" if descending else ">", values))
    rows = list(queryset.order_by(*ordering)[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([_get(rows[-1], name) for name in names])


def _get(row: Model | dict[str, object], name: str) -> object:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _cursor_value(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def fields_param() -> serializers.CharField:
    return serializers.CharField(
        required=False,
        max_length=1000,
        help_text=_(
            "Comma-separated names of the fields each result should carry (default: "
            "all); an unknown name is a 400 listing the known ones."
        ),
    )


class PageQuery(serializers.Serializer):
    """The query parameters every list takes."""

    cursor = serializers.CharField(
        required=False, max_length=500, help_text=_("`next_cursor` of the previous page.")
    )
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=format_lazy(_("Page size, at most {n}."), n=MAX_LIMIT),
    )
    fields = fields_param()


def page_serializer(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The body of one page of ``item``s, named ``name`` in the schema."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "results": item(many=True),
            "next_cursor": serializers.CharField(
                allow_null=True, help_text=_("Pass as `cursor` for the next page; null at the end.")
            ),
            "has_more": serializers.BooleanField(
                help_text=_("Another page follows (`next_cursor` is not null).")
            ),
            "__doc__": f"One page of {item.__name__.removesuffix('Serializer')} rows.",
        },
    )
