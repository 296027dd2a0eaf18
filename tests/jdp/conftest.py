"""Fixtures of the JDP tests: one real MariaDB server per session, a fresh database per test."""

from __future__ import annotations

import itertools
import os

import pymysql
import pytest

from tests.support import mariadb

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory):
    """A MariaDB server for the session; skipped (failed under ``CI=true``) without one."""
    reason = mariadb.missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs MariaDB for the JDP tests: {reason}")
        pytest.skip(f"no MariaDB server to test JDP on: {reason}")
    server = mariadb.start(tmp_path_factory.mktemp("mariadb"))
    yield server
    server.stop()


@pytest.fixture
def rds_url(mariadb_server) -> str:
    """The URL of an empty database of its own on the session's server (the ISV's RDS)."""
    name = f"jdp_{os.getpid()}_{next(_databases)}"
    connection = pymysql.connect(host="127.0.0.1", port=mariadb_server.port, user="root")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    connection.close()
    return mariadb_server.url(name)
