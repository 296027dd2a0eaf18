"""Raw SQL on Django's connection, for the few statements that move many rows at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper
from psycopg.types.json import Jsonb

from ordersync.taobao.types import dumps


def binary_cursor() -> CursorWrapper:
    """A server-binding cursor on Django's connection (so inside its transaction).

    Django binds parameters client-side, quoting every array element into the SQL text;
    sending column arrays as binary parameters (``%b``) makes a page's upsert several times
    faster.
    """
    connection.ensure_connection()
    # wrapped like Django's own cursors, so query logging and execute wrappers still apply
    # (a private method the stubs leave out)
    cursor = psycopg.Cursor(connection.connection)
    wrapped: CursorWrapper = connection._prepare_cursor(cursor)  # type: ignore[attr-defined]
    return wrapped


# decoded JSON: no static shape to name
def jsonb(value: Any) -> Jsonb:  # noqa: ANN401
    """``value`` as a ``jsonb`` parameter, encoded with orjson (the JSON a platform record
    is stored as: several times faster than the standard library on a page's payloads)."""
    return Jsonb(value, dumps=dumps)


def stage(
    cursor: CursorWrapper, table: str, types: dict[str, str], rows: Iterable[list[Any]]
) -> str:
    """Load ``rows`` (values in the order of ``types``: column -> PostgreSQL type) into this
    session's staging table for ``table`` with a binary ``COPY``; return the staging table.

    The staging table is temporary, made on first use in a session, and emptied at every
    commit. A statement takes the rows out with :func:`staged`, so one transaction may
    stage again and again (each write of a long backfill slice) without truncating it.
    """
    name = f"stage_{table}"
    columns = ", ".join(f"{column} {pg}" for column, pg in types.items())
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS")
    with cursor.cursor.copy(f"COPY {name} ({', '.join(types)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types.values()))
        for row in rows:
            copy.write_row(row)
    return name


def staged(name: str) -> str:
    """A ``WITH`` clause naming ``staged`` the rows of staging table ``name``, taken out of it."""
    return f"WITH staged AS (DELETE FROM {name} RETURNING *)"
