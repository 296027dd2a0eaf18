"""The embedded PostgreSQL: one server per data dir, shared by every process, and
``DATABASE_URL`` taking over when it is set."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

from ordersync.embedded_db import embedded_database_url, stop_server
from tests.support import ROOT
from tests.support.processes import run_manage
from tests.support.waiting import wait_until

START = (
    "import sys; from pathlib import Path; from ordersync.embedded_db import embedded_database_url;"
    "print(embedded_database_url(Path(sys.argv[1])))"
)


def start_in_subprocess(data_dir: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", START, str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def data_dir(tmp_path):
    yield tmp_path / "data"
    if (tmp_path / "data" / "postgres" / "PG_VERSION").exists():
        stop_server(tmp_path / "data")


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


@pytest.mark.e2e
def test_two_processes_start_one_server_and_data_survives(data_dir):
    with ThreadPoolExecutor(2) as pool:
        urls = list(pool.map(start_in_subprocess, [data_dir, data_dir]))
    assert urls[0] == urls[1]
    pid = postmaster_pid(data_dir)
    with psycopg.connect(urls[0], autocommit=True) as conn:
        conn.execute("CREATE TABLE survivor (v text)")
        conn.execute("INSERT INTO survivor VALUES ('still here')")

    # A later process finds the same running server and the data.
    url = start_in_subprocess(data_dir)
    assert postmaster_pid(data_dir) == pid
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT v FROM survivor").fetchone() == ("still here",)

    # After a stop, the next start brings the same data back.
    stop_server(data_dir)
    url = start_in_subprocess(data_dir)
    assert postmaster_pid(data_dir) != pid
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT v FROM survivor").fetchone() == ("still here",)


def test_unusable_data_dir_is_a_clear_error(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(ImproperlyConfigured, match="is not a directory"):
        embedded_database_url(not_a_dir)


def test_unusable_data_dir_stops_manage_py(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    result = run_manage({"ORDERSYNC_DATA_DIR": str(not_a_dir)})
    assert result.returncode == 2
    assert "ORDERSYNC_DATA_DIR" in result.stderr


@pytest.mark.e2e
def test_database_url_mode_uses_that_server_and_starts_none(data_dir, tmp_path):
    url = start_in_subprocess(data_dir)
    other_data_dir = tmp_path / "unused"
    result = run_manage(
        {"DATABASE_URL": url, "ORDERSYNC_DATA_DIR": str(other_data_dir)},
        "shell",
        "-c",
        "from django.conf import settings; from django.db import connection;"
        "print(settings.EMBEDDED_DATABASE, connection.cursor().connection.info.host)",
    )
    assert result.returncode == 0, result.stderr
    embedded, host = result.stdout.split()[-2:]
    assert embedded == "False"
    assert f"host={host}" in url
    assert not (other_data_dir / "postgres").exists()


def test_a_start_slower_than_pgservers_timeout_waits_for_the_server(data_dir, monkeypatch):
    """On a busy machine ``pg_ctl start`` outlasts the 10 s pgserver gives it while the
    server it launched keeps starting: the start waits for that server instead of failing."""
    from pgserver import postgres_server

    real_pg_ctl = postgres_server.pg_ctl

    def outlasted(args, **kwargs):
        if "start" not in args:
            return real_pg_ctl(args, **kwargs)
        # the server is launched (its log opened); pg_ctl's wait for it runs out of time
        real_pg_ctl(["-W" if arg == "-w" else arg for arg in args], **kwargs)
        log = Path(args[args.index("-l") + 1])
        wait_until(log.exists, 30, "the server's log")
        raise subprocess.TimeoutExpired("pg_ctl", kwargs.get("timeout", 10))

    monkeypatch.setattr(postgres_server, "pg_ctl", outlasted)
    url = embedded_database_url(data_dir)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    # this process's own handle, made to keep the server, does not keep it from stopping
    assert "Stopped the embedded PostgreSQL" in stop_server(data_dir)
    assert not (data_dir / "postgres" / "postmaster.pid").exists()


HOLD = (
    "import sys, time; from pathlib import Path; from ordersync.embedded_db import "
    "embedded_database_url; embedded_database_url(Path(sys.argv[1])); print('up', flush=True); "
    "time.sleep(600)"
)


def test_a_killed_process_does_not_keep_the_server_from_stopping(data_dir):
    """pgserver lists each process that uses the server and stops it only for the last one;
    a process killed with SIGKILL never leaves that list."""
    import signal

    from ordersync.embedded_db import HANDLES

    start_in_subprocess(data_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "up"
        with pytest.raises(RuntimeError, match=rf"still used by {holder.pid} "):
            stop_server(data_dir)  # a live user is named, and the server keeps running
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert holder.pid in json.loads((data_dir / "postgres" / HANDLES).read_text())

        assert "Stopped the embedded PostgreSQL" in stop_server(data_dir)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    out = subprocess.run(
        [sys.executable, "-m", "ordersync.embedded_db", "stop", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "is not running" in out.stdout, out.stderr


# A start of the server of a data dir, held up after it took the lock of pgserver's
# bookkeeping (before its ``initdb``) until the test writes a line, or for HELD_SECONDS.
HELD_START = """
import os, select, sys, time
from pathlib import Path
from pgserver.postgres_server import PostgresServer
from ordersync.embedded_db import embedded_database_url

def held(self):
    began = time.monotonic()
    print("starting", flush=True)
    asked, _, _ = select.select([sys.stdin], [], [], float(sys.argv[2]))
    print("released on request" if asked else
          f"released unasked after {time.monotonic() - began:.0f} s", flush=True)
    os._exit(0)

PostgresServer.ensure_pgdata_inited = held
embedded_database_url(Path(sys.argv[1]))
"""
HELD_SECONDS = 60


def held_start(data_dir: Path) -> subprocess.Popen:
    """A process in the middle of a start of the server of ``data_dir``; ``release`` ends it."""
    starting = subprocess.Popen(
        [sys.executable, "-c", HELD_START, str(data_dir), str(HELD_SECONDS)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert starting.stdout.readline().strip() == "starting"
    return starting


def release(starting: subprocess.Popen) -> str:
    """End the held start: how it ended, "released on request" unless its time ran out."""
    try:
        said, _ = starting.communicate("go\n", timeout=HELD_SECONDS + 30)
    finally:
        if starting.poll() is None:
            starting.kill()
    return said.strip()


def test_a_start_of_another_data_dirs_server_holds_up_no_command(data_dir, tmp_path):
    """pgserver keeps one lock for every server of the user and holds it through a whole
    ``initdb`` and start: a command on a running server waited, at its start and at its
    exit, for the start of any other (a test's, a clone's)."""
    start_in_subprocess(data_dir)
    starting = held_start(tmp_path / "other")
    try:
        result = run_manage({"ORDERSYNC_DATA_DIR": str(data_dir), "DATABASE_URL": ""}, "check")
    finally:
        released = release(starting)
    assert result.returncode == 0, result.stderr
    assert released == "released on request"  # the command ended while the other start held


USE = (
    "import sys; from pathlib import Path; from ordersync.embedded_db import "
    "embedded_database_url; embedded_database_url(Path(sys.argv[1])); print('up', flush=True); "
    "sys.stdin.readline()"
)


def test_a_process_leaves_while_a_start_of_its_server_holds_the_lock(data_dir):
    """pgserver's exit handler took the lock to take the process off the server's list, and
    so waited for any start in progress; ``forget_dead_handles`` drops it at the next start
    or stop instead."""
    start_in_subprocess(data_dir)
    user = subprocess.Popen(
        [sys.executable, "-c", USE, str(data_dir)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert user.stdout.readline().strip() == "up"
        starting = held_start(data_dir)
        try:
            user.communicate("\n", timeout=HELD_SECONDS + 30)
        finally:
            released = release(starting)
    finally:
        if user.poll() is None:
            user.kill()
    assert user.returncode == 0
    assert released == "released on request"  # the user left while the start held the lock
