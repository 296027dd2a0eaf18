"""Raw SQL on Django's connection, for the few statements that move many rows at once."""

from __future__ import annotations

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper


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
