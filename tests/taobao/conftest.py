"""Sandbox fixtures for the TOP client tests: a gateway on loopback, apps, sellers, faults."""

from __future__ import annotations

import itertools
import os

import pytest

from ordersync.sandbox.server import start_sandbox
from ordersync.taobao.client import AppCredentials
from ordersync.taobao.store import close_state_connection, state_connection
from tests.support.taobao import control

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def sandbox():
    sb = start_sandbox(host="127.0.0.1", port=0, seed=42)
    yield sb
    sb.stop()


@pytest.fixture
def faults(sandbox):
    """Set sandbox faults for one test; they are reset afterwards."""

    def set_faults(**values) -> dict:
        return control(sandbox, "faults", values)

    yield set_faults
    control(sandbox, "faults", {"reset": True})


@pytest.fixture
def make_app(sandbox):
    """Register a fresh app on the sandbox (its own budget and limiter row)."""

    def make(calls_per_minute: int = 0, sign_method: str = "hmac-sha256") -> AppCredentials:
        key = f"{os.getpid()}{next(_ids):04d}"
        secret = f"secret-{key}"
        control(
            sandbox,
            "apps",
            {"app_key": key, "app_secret": secret, "calls_per_minute": calls_per_minute},
        )
        return AppCredentials(
            app_key=key,
            app_secret=secret,
            gateway_url=sandbox.gateway_url,
            sign_method=sign_method,
            token_url=f"{sandbox.url}/token",
        )

    return make


@pytest.fixture
def seller(sandbox, make_app):
    """(app, seller) with 30 trades of history; seller["session"] is the session key."""
    app = make_app()
    nick = f"shop-{app.app_key}"
    created = control(
        sandbox,
        "sellers",
        {"app_key": app.app_key, "nick": nick, "history_trades": 30, "history_days": 5},
    )
    return app, created


@pytest.fixture
def state_db(db):
    """The test database, used through the client's own autocommit connection.

    Its writes commit (they are shared state), so each test uses fresh app keys and starts
    with no stored clock offset.
    """
    conn = state_connection()
    conn.execute("DELETE FROM taobao_platformclockoffset")
    yield conn
    close_state_connection()
