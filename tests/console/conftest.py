"""Console fixtures: an operator, a tenant admin, and one row of every tenant-owned model."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from shops.models import Membership
from tests.support.console import one_of_each


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("olga", password="pw-olga")


@pytest.fixture
def dave(tenant_a):
    """Admin (not owner) of tenant A."""
    user = get_user_model().objects.create_user("dave", password="pw-dave", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant_a, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def world(alice, bob, charlie, shop_a, shop_b) -> dict:
    """``{"a": {model: row}, "b": {model: row}}`` for tenants A and B."""
    return {"a": one_of_each(shop_a, 1_000_001), "b": one_of_each(shop_b, 2_000_001)}
