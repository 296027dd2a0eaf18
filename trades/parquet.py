"""Bulk export as Parquet (the optional ``parquet`` extra: ``pip install ordersync[parquet]``,
which brings pyarrow): the same rows as NDJSON and CSV (``trades.exports``), written in row
groups of ``ROW_GROUP`` rows, each sent as soon as it is written.

Memory holds one row group (and the chunk being read) whatever the export's size. A Parquet
file ends with its footer: a cut download cannot be opened, so a client knows it is
incomplete; each row still carries its ``cursor`` to start a new export after it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING

from django.db import models

from trades.exports import LINE_COLUMNS, STRING_IDS, Kind
from trades.models import TradeLine

if TYPE_CHECKING:
    import pyarrow as pa

ROW_GROUP = 10_000
MEDIA = "application/vnd.apache.parquet"


def available() -> bool:
    """Whether pyarrow (the ``parquet`` extra) is installed."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def _arrow_type(field: models.Field) -> pa.DataType:
    import pyarrow as pa

    if isinstance(field, models.DecimalField):
        return pa.decimal128(field.max_digits, field.decimal_places)
    if isinstance(field, models.DateTimeField):
        return pa.timestamp("us", tz="UTC")
    if isinstance(field, models.BooleanField):
        return pa.bool_()
    if isinstance(field, models.IntegerField | models.AutoField | models.ForeignKey):
        return pa.int64()
    return pa.string()


def _fields(model: type[models.Model], columns: tuple[str, ...]) -> list[pa.Field]:
    import pyarrow as pa

    found = []
    for name in columns:
        field = model._meta.get_field(name)  # ``shop_id`` is found as the shop's column
        assert isinstance(field, models.Field)  # a column, not a relation's reverse side
        found.append(pa.field(name, _arrow_type(field)))
        if name in STRING_IDS:
            found.append(pa.field(f"{name}_str", pa.string()))
    return found


@cache
def schema(kind: Kind) -> pa.Schema:
    """The kind's columns as Arrow types: ids int64 (with ``*_str`` twins), money decimals,
    times UTC microseconds, a trade's ``lines`` a list of structs, then ``cursor``."""
    import pyarrow as pa

    fields = _fields(kind.model, kind.columns)
    if kind.with_lines:
        line = pa.struct(_fields(TradeLine, LINE_COLUMNS))
        fields.append(pa.field("lines", pa.list_(line)))
    return pa.schema([*fields, pa.field("cursor", pa.string())])


class _Sink(io.RawIOBase):
    """A file pyarrow writes to; what it wrote is taken out after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = bytes(data)
        self.parts.append(chunk)
        self.size += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.size

    def take(self) -> bytes:
        taken, self.parts = b"".join(self.parts), []
        return taken


def parquet(kind: Kind, rows_: Iterator[dict]) -> Iterator[bytes]:
    """The rows as one Parquet file, yielded a row group at a time, then the footer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink, table_schema = _Sink(), schema(kind)
    writer = pq.ParquetWriter(sink, table_schema, compression="zstd")
    group: list[dict] = []
    for row in rows_:
        group.append(row)
        if len(group) == ROW_GROUP:
            writer.write_table(pa.Table.from_pylist(group, schema=table_schema))
            group = []
            yield sink.take()
    if group or not sink.size:
        writer.write_table(pa.Table.from_pylist(group, schema=table_schema))
    writer.close()
    yield sink.take()
