"""Fixtures of the JDP tests: one real MariaDB server per session, a fresh database per test."""

from __future__ import annotations

import itertools
import os
import time

import pymysql
import pytest

from tools import mariadb

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


@pytest.fixture
def enrolled_shop(gateway, make_shop, rds_url):
    """A sandbox shop enrolled in JDP (with 30 days of history) into the test's RDS."""
    from trades.jdp.enrol import enrol_shop
    from trades.jdp.models import JdpRds

    def make(nick: str, history_trades: int = 40, history_days: int = 30):
        gateway.control("jdp/rds", {"name": "rds-1", "url": rds_url})
        shop = make_shop(nick, history_trades=history_trades, history_days=10)
        rds, _ = JdpRds.objects.get_or_create(name="rds-1", defaults={"url": rds_url})
        enrol_shop(shop, rds, history_days)
        return shop

    return make


def consume(shop=None, connections=None) -> int:
    """One pass of the consumer (over ``shop`` only, when given) on ``connections`` (kept
    by the caller across passes, or new); return the rows read."""
    from trades.jdp import runner

    own = connections is None
    connections = connections or runner.Connections()
    try:
        return runner.consume_once(connections, [shop.pk] if shop else None)
    finally:
        if own:
            connections.close()


def wait_pushed(gateway, timeout: float = 60.0) -> None:
    """Until the sandbox pushed every change due and the pusher wrote it."""
    deadline = time.monotonic() + timeout
    while True:
        stats = gateway.control("jdp")
        pusher = gateway.sandbox.jdp_pusher
        if not stats["pending"] and not pusher.unwritten:
            time.sleep(0.3)  # the last write in flight
            return
        assert time.monotonic() < deadline, f"the push did not drain: {stats}"
        time.sleep(0.2)
