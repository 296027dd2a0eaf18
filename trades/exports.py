"""Bulk export: a tenant's trades (with their lines) or refunds over a range of modified
time, as NDJSON or CSV lines, generated chunk by chunk.

Rows are read in keyset chunks ordered by ``(modified, id)``: each chunk is one short query
(``trade_tenant_modified_idx`` / ``refund_tenant_modified_idx``, read backwards) plus one for
its lines, so memory holds one chunk whatever the export's size, and no transaction stays
open while a slow client reads. Every row carries the ``cursor`` after it: an export cut off
is resumed by sending the last cursor received. NDJSON ends with an ``{"end": true}`` line,
CSV with a ``#end`` line, so a client can tell a complete export from a cut one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from shops.audit.models import AuditEntry
from trades.api.pagination import RowCompare, _decode, _encode
from trades.models import Refund, Trade, TradeLine

CHUNK = 1000
MEDIA = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
TRADE_COLUMNS = (
    "id", "shop_id", "tid", "status", "type", "created", "modified", "pay_time",
    "consign_time", "end_time", "payment", "total_fee", "post_fee", "buyer_open_uid",
    "buyer_nick", "receiver_state", "receiver_city", "receiver_district",
    "step_trade_status", "step_paid_fee",
)  # fmt: skip
LINE_COLUMNS = (
    "oid", "status", "refund_status", "num_iid", "sku_id", "title", "price", "num",
    "payment", "divide_order_fee",
)  # fmt: skip
REFUND_COLUMNS = (
    "id", "shop_id", "refund_id", "tid", "oid", "status", "refund_fee", "created", "modified",
)  # fmt: skip
AUDIT_COLUMNS = (
    "id", "at", "actor_kind", "actor", "actor_user_id", "actor_key_id", "ip", "user_agent",
    "action", "object_type", "object_id", "object_repr", "changes", "details",
)  # fmt: skip
# ids past 2**53 lose digits in JavaScript's JSON.parse: each has a string twin
STRING_IDS = ("tid", "oid", "refund_id")


class BadExportCursor(ValueError):
    pass


@dataclass(frozen=True)
class Kind:
    model: type
    columns: tuple[str, ...]
    with_lines: bool
    time_field: str = "modified"  # rows come in (time_field, id) order; the range is on it

    @property
    def order(self) -> tuple[str, str]:
        return (self.time_field, "id")

    def header(self) -> list[str]:
        ids = [f"{c}_str" for c in self.columns if c in STRING_IDS]
        return [*self.columns, *ids, *(["lines"] if self.with_lines else []), "cursor"]


KINDS = {
    "trades": Kind(Trade, TRADE_COLUMNS, True),
    "refunds": Kind(Refund, REFUND_COLUMNS, False),
    "audit": Kind(AuditEntry, AUDIT_COLUMNS, False, time_field="at"),
}


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    fields = [Trade._meta.get_field("modified"), Trade._meta.pk]
    try:
        modified, pk = _decode(cursor, fields)
    except ValueError:
        raise BadExportCursor("not a cursor of an export") from None
    return modified, pk


def rows(kind: Kind, queryset: QuerySet, after: tuple | None = None) -> Iterator[dict]:
    """Every row of ``queryset`` after the position ``after``, in export order, chunk by
    chunk; each row a dict of the kind's columns (and ``lines``) with its ``cursor``."""
    while True:
        chunk_qs = (
            queryset if after is None else queryset.filter(RowCompare(kind.order, ">", after))
        )
        chunk = list(chunk_qs.order_by(*kind.order).values(*kind.columns)[:CHUNK])
        if not chunk:
            return
        if kind.with_lines:
            _attach_lines(chunk)
        for row in chunk:
            yield _finish(row, kind.time_field)
        after = (chunk[-1][kind.time_field], chunk[-1]["id"])


def _attach_lines(chunk: list[dict]) -> None:
    by_trade: dict[int, list[dict]] = {row["id"]: [] for row in chunk}
    lines = TradeLine.objects.filter(trade_id__in=list(by_trade)).order_by("trade_id", "oid")
    for line in lines.values("trade_id", *LINE_COLUMNS):
        trade_id = line.pop("trade_id")
        line["oid_str"] = str(line["oid"])
        by_trade[trade_id].append(line)
    for row in chunk:
        row["lines"] = by_trade[row["id"]]


def _finish(row: dict, time_field: str) -> dict:
    for name in STRING_IDS:
        if name in row:
            row[f"{name}_str"] = None if row[name] is None else str(row[name])
    row["cursor"] = _encode([row[time_field].isoformat(), row["id"]])
    return row


def _json(value: object) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def ndjson(rows_: Iterator[dict]) -> Iterator[str]:
    """One JSON object a line, then ``{"end": true, "rows": n, "cursor": last}``."""
    count, cursor = 0, None
    for row in rows_:
        count, cursor = count + 1, row["cursor"]
        yield _json(row) + "\n"
    yield _json({"end": True, "rows": count, "cursor": cursor}) + "\n"


def csv_lines(kind: Kind, rows_: Iterator[dict]) -> Iterator[str]:
    """A header, one line a row (a trade's lines as JSON in ``lines``), then
    ``#end rows=n cursor=last``."""
    header = kind.header()
    count, cursor = 0, ""
    yield _csv_line(header)
    for row in rows_:
        count, cursor = count + 1, row["cursor"]
        for name in ("lines", "changes", "details"):
            if name in row:
                row[name] = _json(row[name])
        yield _csv_line([_cell(row.get(name)) for name in header])
    yield f"#end rows={count} cursor={cursor}\n"


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


def _csv_line(values: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def select(kind: Kind, queryset: QuerySet, params: dict) -> QuerySet:
    """``queryset`` narrowed to the request's ``shop`` and range of the kind's time (given as
    ``modified_after`` / ``modified_before``)."""
    if "shop" in params:
        queryset = queryset.filter(shop_id=params["shop"])
    if "modified_after" in params:
        queryset = queryset.filter(**{f"{kind.time_field}__gte": params["modified_after"]})
    if "modified_before" in params:
        queryset = queryset.filter(**{f"{kind.time_field}__lt": params["modified_before"]})
    return queryset


def response(what: str, queryset: QuerySet, params: dict) -> StreamingHttpResponse:
    """The streamed export of ``queryset`` (already scoped to what the caller may read),
    narrowed by ``params`` (format, shop, modified range, cursor: checked already)."""
    kind = KINDS[what]
    after = decode_cursor(params["cursor"]) if params.get("cursor") else None
    rows_ = rows(kind, select(kind, queryset, params), after)
    fmt = params.get("format") or "ndjson"
    body = ndjson(rows_) if fmt == "ndjson" else csv_lines(kind, rows_)
    answer = StreamingHttpResponse(body, content_type=MEDIA[fmt])
    answer["Content-Disposition"] = f'attachment; filename="{what}.{fmt}"'
    answer["Cache-Control"] = "no-store"
    return answer
