"""Embedded PostgreSQL for a machine that has nothing but Python.

With no ``DATABASE_URL`` the project runs a real PostgreSQL server (binaries from the
``pgserver`` wheel) in ``ORDERSYNC_DATA_DIR/postgres``. The first process starts it; every
later process (web, workers, ``manage.py`` commands, tests) finds it running and shares it.
The server outlives the process that started it, so data survives restarts; stop it with
``python -m ordersync.embedded_db stop [DATA_DIR]``.

pgserver keeps its bookkeeping (the list of processes using a server, a start, a stop) under
one lock for every server of the user, held through a whole ``initdb`` and start: a process
starting the server of one data dir (a test's, a clone's) held up every process of every
other, at its start and at its exit. Ours is one lock per data dir.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from fasteners import InterProcessLock
    from pgserver import PostgresServer

DATABASE_NAME = "ordersync"
# pgserver lists every process that uses the server here, and stops it (on request) only
# when the process asking is the last one listed.
HANDLES = ".handle_pids.json"
# the lock of pgserver's bookkeeping for the server of one data dir, in that dir (the
# server's own folder must stay empty for ``initdb``)
SERVER_LOCK = ".postgres.lock"
# how long a start may take on a busy machine before it is an error
READY_SECONDS = 120.0
# one lock object per data dir and process, as pgserver's one: a POSIX lock is the process's,
# and closing a second object's file would release it
_locks: dict[Path, InterProcessLock] = {}


def _pgserver() -> ModuleType:
    # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    import pgserver

    return pgserver


def _server_lock(pgdata: Path) -> InterProcessLock:
    """The lock of pgserver's bookkeeping for the server of ``pgdata``."""
    import fasteners

    path = pgdata.resolve().parent / SERVER_LOCK
    return _locks.setdefault(path, fasteners.InterProcessLock(path))


@functools.cache
def _server_class() -> type[PostgresServer]:
    base: Any = _pgserver().PostgresServer

    class DataDirServer(base):  # type: ignore[misc]
        """pgserver's handle of a server, with the lock of its data dir and no exit handler
        (pgserver's waited for that lock to take the process off the list, which
        ``forget_dead_handles`` does for every process gone at each start and stop)."""

        def __init__(self, pgdata: Path, *, cleanup_mode: str | None) -> None:
            self._lock = _server_lock(pgdata)
            try:
                super().__init__(pgdata, cleanup_mode=cleanup_mode)
            finally:
                atexit.unregister(self._cleanup)

    return DataDirServer


def _server(pgdata: Path, cleanup_mode: str | None) -> PostgresServer:
    """``pgserver.get_server`` with our handle: this process's handle of the server of
    ``pgdata``, which is initialized and started if it is not running."""
    pgdata = pgdata.resolve()
    # pgserver's own mkdir fails when two processes start at once; ours tolerates it.
    pgdata.mkdir(exist_ok=True)
    known: PostgresServer | None = _pgserver().PostgresServer._instances.get(pgdata)
    return known or _server_class()(pgdata, cleanup_mode=cleanup_mode)


def _start_server(pgdata: Path) -> PostgresServer:
    forget_dead_handles(pgdata)
    try:
        return _server(pgdata, cleanup_mode=None)
    except subprocess.TimeoutExpired:
        # pgserver gives ``pg_ctl start`` 10 s; on a busy machine the server it started
        # (which keeps starting) may take longer to accept connections.
        _wait_until_ready(pgdata)
        _pgserver().PostgresServer._instances.pop(pgdata.resolve(), None)  # the failed handle
        return _server(pgdata, cleanup_mode=None)


def _wait_until_ready(pgdata: Path, timeout: float = READY_SECONDS) -> None:
    """Return once the server of ``pgdata`` says it is ready; raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not _ready(pgdata):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server did not get ready within {timeout:.0f} s")
        time.sleep(0.2)


def _ready(pgdata: Path) -> bool:
    try:
        info: Any = _pgserver().utils.PostmasterInfo.read_from_pgdata(pgdata)
    except AssertionError:  # pgserver's check of a postmaster.pid still being written
        return False
    return info is not None and bool(info.is_running()) and info.status == "ready"


@contextmanager
def _starting(data_dir: Path) -> Iterator[None]:
    """Hold the data dir's start lock: one process at a time starts (or finds) its server.

    pgserver reads ``postmaster.pid`` to find a running server; a process starting beside
    another one's ``initdb`` read it half-written (seen with parallel test workers)."""
    with open(data_dir / ".start.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop from pgserver's list the processes that are gone; return those still running.

    A process stays listed after it exits (our handles have no exit handler, and one killed
    never ran it): with it listed the server could never be stopped."""
    import psutil

    handles = pgdata / HANDLES
    # the lock our handles hold while they read and write the list
    with _server_lock(pgdata):
        if not handles.exists():
            return []
        pids = json.loads(handles.read_text() or "[]")
        live = [pid for pid in pids if psutil.pid_exists(pid)]
        if live != pids:
            handles.write_text(json.dumps(live))
    return live


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
    uri: str = server.get_uri(DATABASE_NAME)
    return uri


def stop_server(data_dir: Path) -> str:
    """Stop the embedded server of ``data_dir`` unless a running process still uses it;
    return what happened, in a sentence. Raise ``RuntimeError`` when it cannot stop."""
    pgdata = data_dir.expanduser().resolve() / "postgres"
    pgserver = _pgserver()
    info = pgserver.utils.PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return f"The embedded PostgreSQL in {pgdata} is not running."
    live = [pid for pid in forget_dead_handles(pgdata) if pid != os.getpid()]
    if live:
        raise RuntimeError(
            f"The embedded PostgreSQL in {pgdata} is still used by {_describe(live)}: "
            "stop them first."
        )
    server = _server(pgdata, cleanup_mode="stop")
    server.cleanup_mode = "stop"  # also when it is this process's own handle, made to keep it
    server.cleanup()
    return f"Stopped the embedded PostgreSQL in {pgdata}."


def _describe(pids: list[int]) -> str:
    import psutil

    names = []
    for pid in pids:
        try:
            names.append(f"{pid} ({' '.join(psutil.Process(pid).cmdline()[1:3])})")
        except psutil.Error:
            names.append(str(pid))
    return ", ".join(names)


def main(argv: list[str]) -> int:
    """``python -m ordersync.embedded_db stop [DATA_DIR]`` (default: ``ORDERSYNC_DATA_DIR``,
    else ``.data`` beside ``manage.py``, as in the settings)."""
    if argv[:1] != ["stop"] or len(argv) > 2:
        print("usage: python -m ordersync.embedded_db stop [DATA_DIR]", file=sys.stderr)
        return 2
    default = os.environ.get("ORDERSYNC_DATA_DIR") or Path(__file__).resolve().parents[1] / ".data"
    try:
        print(stop_server(Path(argv[1] if len(argv) > 1 else default)))
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
