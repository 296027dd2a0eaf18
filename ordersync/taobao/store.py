"""PostgreSQL-backed state for the limiter and the clock, and the client factory.

The state is read and written on a connection of its own, in autocommit: a budget taken or
a ban recorded must be visible to every process at once, and must not wait for (or roll
back with) whatever transaction the caller happens to be in. Its commits do not wait for the
disk (``synchronous_commit`` off): each API call commits the app's budget row under its row
lock, and a commit that waited for the flush would hold every worker of the app behind it.
What a database crash can lose is the last moment of budget and bans: calls counted a little
low for a minute, a ban learnt again from the platform's next refusal.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import connections
from psycopg.types.json import Jsonb

from ordersync.taobao import api
from ordersync.taobao.client import AppCredentials, TopClient
from ordersync.taobao.clock import Offset, PlatformClock
from ordersync.taobao.limiter import TokenBucketLimiter
from ordersync.taobao.models import ApiBudget, PlatformClockOffset
from ordersync.taobao.retry import RetryPolicy

T = TypeVar("T")
_local = threading.local()
CONNECT_KEYS = ("dbname", "user", "password", "host", "port", "sslmode", "options")
NOW = "extract(epoch from clock_timestamp())::float8"


def state_connection() -> psycopg.Connection:
    """This thread's autocommit connection to the default database (the one Django uses
    now: a test run switches it to the test database after processes start)."""
    params = connections["default"].get_connection_params()
    kwargs = {k: v for k, v in params.items() if k in CONNECT_KEYS and v not in (None, "")}
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed or _local.pid != os.getpid() or _local.kwargs != kwargs:
        if conn is not None and not conn.closed and _local.pid == os.getpid():
            conn.close()  # (a forked child must leave its parent's socket alone)
        conn = psycopg.connect(**kwargs, autocommit=True)
        conn.execute("SET synchronous_commit = off")
        _local.conn, _local.pid, _local.kwargs = conn, os.getpid(), kwargs
    return conn


def close_state_connection() -> None:
    conn = getattr(_local, "conn", None)
    if conn is not None:
        conn.close()
        _local.conn = None


class PgLimiterStore:
    """Runs the limiter's update under a row lock on the app's ApiBudget row."""

    table = ApiBudget._meta.db_table

    def update(self, app_key: str, fn: Callable[[dict[str, Any], float], T]) -> T:
        conn = state_connection()
        with conn.transaction():
            row = self._locked(conn, app_key)
            if row is None:
                conn.execute(
                    f"INSERT INTO {self.table} (app_key, state, updated) VALUES (%s, '{{}}', now())"
                    " ON CONFLICT DO NOTHING",
                    [app_key],
                )
                row = self._locked(conn, app_key)
            assert row is not None  # inserted just above, in this transaction
            state, now = row
            result = fn(state, now)
            conn.execute(
                f"UPDATE {self.table} SET state = %s, updated = now() WHERE app_key = %s",
                [Jsonb(state), app_key],
            )
        return result

    def _locked(
        self, conn: psycopg.Connection, app_key: str
    ) -> tuple[dict[str, Any], float] | None:
        return conn.execute(
            f"SELECT state, {NOW} FROM {self.table} WHERE app_key = %s FOR UPDATE", [app_key]
        ).fetchone()


class PgClockStore:
    """The measured offset, and a lease so that one process at a time re-measures it."""

    table = PlatformClockOffset._meta.db_table

    def reference_time(self) -> float:
        row = state_connection().execute(f"SELECT {NOW}").fetchone()
        assert row is not None  # a SELECT without FROM always returns its row
        return float(row[0])

    def load(self, key: str) -> Offset | None:
        row = (
            state_connection()
            .execute(f"SELECT offset_seconds, measured_at FROM {self.table} WHERE key = %s", [key])
            .fetchone()
        )
        if row is None or row[1] == 0:
            return None
        return Offset(seconds=row[0], measured_at=row[1])

    def claim(self, key: str, stale_before: float, lease_seconds: float) -> bool:
        conn = state_connection()
        conn.execute(
            f"INSERT INTO {self.table} (key, offset_seconds, measured_at, claimed_until)"
            " VALUES (%s, 0, 0, 0) ON CONFLICT DO NOTHING",
            [key],
        )
        claimed = conn.execute(
            f"UPDATE {self.table} SET claimed_until = {NOW} + %s"
            f" WHERE key = %s AND measured_at < %s AND claimed_until < {NOW} RETURNING key",
            [lease_seconds, key, stale_before],
        ).fetchone()
        return claimed is not None

    def save(self, key: str, offset: Offset) -> None:
        state_connection().execute(
            f"INSERT INTO {self.table} (key, offset_seconds, measured_at, claimed_until)"
            " VALUES (%s, %s, %s, 0) ON CONFLICT (key) DO UPDATE SET"
            " offset_seconds = EXCLUDED.offset_seconds, measured_at = EXCLUDED.measured_at,"
            " claimed_until = 0",
            [key, offset.seconds, offset.measured_at],
        )


def client_for(
    app: AppCredentials,
    *,
    calls_per_minute: int = 1000,
    clock_refresh_seconds: float = 300,
    **kw: Any,
) -> TopClient:
    """A client with the database-backed limiter and clock; timeouts and attempts from settings.

    ``calls_per_minute`` is the app's whole budget (shops.TopApp.calls_per_minute).
    """
    kw.setdefault("connect_timeout", settings.TOP_CONNECT_TIMEOUT)
    kw.setdefault("read_timeout", settings.TOP_READ_TIMEOUT)
    kw.setdefault(
        "policy", RetryPolicy(max_attempts=settings.TOP_MAX_ATTEMPTS, cap=settings.TOP_BACKOFF_CAP)
    )
    if "limiter" not in kw:
        kw["limiter"] = TokenBucketLimiter(PgLimiterStore(), calls_per_minute)
    client = TopClient(app, **kw)
    if "clock" not in kw:
        # The clock measures through this very client; while it does, it uses its last offset.
        client.clock = PlatformClock(
            PgClockStore(),
            fetch=lambda: api.time_get(client),
            refresh_seconds=clock_refresh_seconds,
            key=app.gateway_url,
        )
    return client
