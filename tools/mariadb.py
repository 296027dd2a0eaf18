"""A real MariaDB server for the JDP tests and benchmark: Debian's ``mariadbd`` in a
temporary directory.

``mariadb-install-db`` lays out a data directory, the server listens on a free port of
127.0.0.1 and on its own socket, with ``--skip-grant-tables`` (anyone connecting is root:
the server is private to the test session and never leaves loopback).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"
START_TIMEOUT = 60.0


def missing() -> str:
    """Why no server can be started here ("" when one can)."""
    if not os.access(MARIADBD, os.X_OK):
        return f"{MARIADBD} is not installed (Debian: apt-get install mariadb-server)"
    if shutil.which(INSTALL_DB) is None:
        return f"{INSTALL_DB} is not on PATH (Debian: apt-get install mariadb-server)"
    return ""


@dataclass
class MariaDB:
    """A running server: ``url(database)`` names a database on it."""

    process: subprocess.Popen
    port: int
    root: Path

    def url(self, database: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_args(root: Path, port: int) -> list[str]:
    args = [
        MARIADBD,
        "--no-defaults",
        f"--datadir={root / 'data'}",
        f"--socket={root / 'mysqld.sock'}",
        f"--pid-file={root / 'mysqld.pid'}",
        f"--log-error={root / 'error.log'}",
        "--bind-address=127.0.0.1",
        f"--port={port}",
        "--skip-grant-tables",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=64M",
        "--character-set-server=utf8mb4",
    ]
    if os.getuid() == 0:
        args.append("--user=root")  # mariadbd refuses to run as root unless told to
    return args


def start(root: Path) -> MariaDB:
    """Install a data directory under ``root`` and start a server on it."""
    _install(root / "data")
    port = _free_port()
    process = subprocess.Popen(
        _server_args(root, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = MariaDB(process, port, root)
    _wait_ready(server)
    return server


def _install(data: Path, attempts: int = 2) -> None:
    """``mariadb-install-db`` into ``data``; once more on a new directory if it fails (it
    failed once among four test workers starting at the same time, its reason unseen), and
    the error names what it printed."""
    command = [INSTALL_DB, "--no-defaults", f"--datadir={data}", "--skip-test-db"]
    command += ["--user=root"] if os.getuid() == 0 else []
    for attempt in range(1, attempts + 1):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode == 0:
            return
        said = (done.stderr or done.stdout).strip()[-2000:]
        if attempt == attempts:
            raise RuntimeError(f"{INSTALL_DB} failed ({done.returncode}): {said}")
        print(f"{INSTALL_DB} failed ({done.returncode}), once more: {said}", file=sys.stderr)
        shutil.rmtree(data, ignore_errors=True)


def _wait_ready(server: MariaDB) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            log = (server.root / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"mariadbd exited with {server.process.returncode}:\n{log}")
        try:
            pymysql.connect(host="127.0.0.1", port=server.port, user="root").close()
            return
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.1)
