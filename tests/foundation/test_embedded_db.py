"""The embedded PostgreSQL: one server per data dir, shared by every process, and
``DATABASE_URL`` taking over when it is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

from ordersync.embedded_db import embedded_database_url
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


def stop_server(data_dir: Path) -> None:
    import pgserver

    server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    server.cleanup()


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
    try:
        url = embedded_database_url(data_dir)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        # this process's handle keeps the server (cleanup_mode None): drop it, so that
        # data_dir's teardown, as for a server a child process started, stops the server
        pgdata = (data_dir / "postgres").resolve()
        handle = postgres_server.PostgresServer._instances.pop(pgdata, None)
        if handle is not None:
            handle.global_process_id_list.get_and_remove(os.getpid())


HOLD = (
    "import sys, time; from pathlib import Path; from ordersync.embedded_db import "
    "embedded_database_url; embedded_database_url(Path(sys.argv[1])); print('up', flush=True); "
    "time.sleep(600)"
)


def test_a_killed_process_does_not_keep_the_server_from_stopping(data_dir):
    """pgserver lists each process that uses the server and stops it only for the last one;
    a process killed with SIGKILL never leaves that list."""
    import signal

    from ordersync.embedded_db import HANDLES, stop_server

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
