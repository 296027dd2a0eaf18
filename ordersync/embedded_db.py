"""Embedded PostgreSQL for a machine that has nothing but Python.

With no ``DATABASE_URL`` the project runs a real PostgreSQL server (binaries from the
``pgserver`` wheel) in ``ORDERSYNC_DATA_DIR/postgres``. The first process starts it; every
later process (web, workers, ``manage.py`` commands, tests) finds it running and shares it.
The server outlives the process that started it, so data survives restarts.
"""

from __future__ import annotations

import fcntl
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DATABASE_NAME = "ordersync"


def _start_server(pgdata: Path):
    # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    import pgserver

    # pgserver's own mkdir fails when two processes start at once; ours tolerates it.
    pgdata.mkdir(exist_ok=True)
    return pgserver.get_server(pgdata, cleanup_mode=None)


@contextmanager
def _starting(data_dir: Path) -> Iterator[None]:
    """Hold the data dir's start lock: one process at a time starts (or finds) its server.

    pgserver reads ``postmaster.pid`` to find a running server; a process starting beside
    another one's ``initdb`` read it half-written (seen with parallel test workers)."""
    with open(data_dir / ".start.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _check_data_dir(data_dir: Path) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise ImproperlyConfigured(f"ORDERSYNC_DATA_DIR={data_dir} exists and is not a directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"ORDERSYNC_DATA_DIR={data_dir} cannot be created: {exc}"
        ) from exc
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise ImproperlyConfigured(f"ORDERSYNC_DATA_DIR={data_dir} is not writable")


def _ensure_database(admin_uri: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        # Processes starting together would race between the check and the CREATE.
        conn.execute("SELECT pg_advisory_lock(hashtext('ordersync.create_database'))")
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def embedded_database_url(data_dir: Path) -> str:
    """Start (or find) the embedded server and return a ``DATABASE_URL`` for it."""
    _check_data_dir(data_dir)
    try:
        with _starting(data_dir):
            server = _start_server(data_dir / "postgres")
        _ensure_database(server.get_uri("postgres"))
    except ImproperlyConfigured:
        raise
    except Exception as exc:
        raise ImproperlyConfigured(
            f"ORDERSYNC_DATA_DIR={data_dir}: the embedded PostgreSQL could not start: "
            f"{type(exc).__name__}: {exc} (log: {data_dir / 'postgres' / 'log'})"
        ) from exc
    return server.get_uri(DATABASE_NAME)
