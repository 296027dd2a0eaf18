"""Console fixtures: an operator, a tenant admin, and one row of every tenant-owned model."""

from __future__ import annotations

import pytest

from shops.models import Membership
from tests.support import actors
from tests.support.console import one_of_each


@pytest.fixture
def operator(db):
    return actors.operator()


@pytest.fixture
def dave(tenant_a):
    """Admin (not owner) of tenant A."""
    return actors.member("dave", tenant_a, Membership.Role.ADMIN)


@pytest.fixture
def world(alice, bob, charlie, shop_a, shop_b) -> dict:
    """``{"a": {model: row}, "b": {model: row}}`` for tenants A and B."""
    return {"a": one_of_each(shop_a, 1_000_001), "b": one_of_each(shop_b, 2_000_001)}
