"""Fixtures that run a sandbox on a free loopback port and call it over plain HTTP."""

from __future__ import annotations

import pytest

from ordersync.sandbox.server import start_sandbox
from tests.support.sandbox_http import (
    APP_KEY,
    APP_SECRET,
    Top,
    control,
    make_seller,
)


@pytest.fixture
def sb():
    with start_sandbox(host="127.0.0.1", port=0, seed=42) as sandbox:
        yield sandbox


@pytest.fixture
def app(sb):
    control(sb, "POST", "apps", {"app_key": APP_KEY, "app_secret": APP_SECRET})
    return APP_KEY


@pytest.fixture
def seller(sb, app) -> dict:
    return make_seller(sb)


@pytest.fixture
def top(sb, seller) -> Top:
    return Top(sb, session=seller["session"])
