"""Reading the pushed tables of an RDS (PyMySQL), one batch at a time, by ``jdp_modified``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

import pymysql
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ordersync.taobao.types import PLATFORM_TZ
from trades.jdp.models import JdpRds

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
NO_SUCH_TABLE = 1146  # ER_NO_SUCH_TABLE


@dataclass(frozen=True)
class Row:
    key: int
    jdp_modified: datetime  # aware, platform time (the RDS keeps naive GMT+8)
    response: str | None
    hashcode: str = ""


def url_of(rds: JdpRds) -> str:
    url = rds.url or settings.JDP_DATABASE_URL
    if not url:
        raise ImproperlyConfigured(f"RDS {rds.name} has no URL and JDP_DATABASE_URL is empty")
    return url


def connect(url: str) -> pymysql.connections.Connection:
    """A connection in autocommit: each read sees what the push committed by then."""
    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )


def read_batch(
    connection, table: str, key: str, nick: str, after: tuple[datetime, int], limit: int
) -> list[Row]:
    """Up to ``limit`` rows of seller ``nick`` after ``after`` = (jdp_modified, key), in
    (jdp_modified, key) order: the index (seller_nick, jdp_modified) serves it."""
    stamp = _naive(after[0])
    rows = _select(
        connection,
        f"SELECT {key}, jdp_modified, jdp_response, jdp_hashcode FROM {table}"
        " WHERE seller_nick = %s AND (jdp_modified > %s OR (jdp_modified = %s AND"
        f" {key} > %s)) ORDER BY jdp_modified, {key} LIMIT %s",
        [nick, stamp, stamp, after[1], limit],
    )
    return [Row(int(k), _aware(m), r, h or "") for k, m, r, h in rows]


def pushed(
    connection, table: str, key: str, nick: str, keys: list[int]
) -> dict[int, tuple[datetime, datetime]]:
    """Of the rows of seller ``nick`` with ``keys``: key → (``modified``, ``jdp_modified``)."""
    if not keys:
        return {}
    marks = ", ".join(["%s"] * len(keys))
    rows = _select(
        connection,
        f"SELECT {key}, modified, jdp_modified FROM {table}"
        f" WHERE seller_nick = %s AND {key} IN ({marks})",
        [nick, *keys],
    )
    return {int(k): (_aware(m), _aware(j)) for k, m, j in rows}


def newest(connection, table: str, nick: str) -> datetime | None:
    """The newest ``jdp_modified`` of seller ``nick`` (how far the push has come)."""
    rows = _select(
        connection, f"SELECT MAX(jdp_modified) FROM {table} WHERE seller_nick = %s", [nick]
    )
    value = rows[0][0] if rows else None
    return _aware(value) if value is not None else None


def _select(connection, sql: str, args: list) -> tuple:
    """The rows of ``sql``; none when its table does not exist. The tables are the
    platform's and it does not document when it creates each: an RDS that never had a
    Tmall shop pushed into it may lack ``jdp_tm_refund``, and that is no failure."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()
    except pymysql.err.ProgrammingError as error:
        if error.args and error.args[0] == NO_SUCH_TABLE:
            return ()
        raise


def _naive(value: datetime) -> datetime:
    return value.astimezone(PLATFORM_TZ).replace(tzinfo=None)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=PLATFORM_TZ)
