"""Shared fixtures: three actors (alice owns tenant A, bob views it, charlie owns tenant B)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from shops.models import Membership, Shop, Tenant, TopApp


@pytest.fixture
def tenant_a(db) -> Tenant:
    return Tenant.objects.create(name="Tenant A", slug="tenant-a")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return Tenant.objects.create(name="Tenant B", slug="tenant-b")


def _member(username: str, tenant: Tenant, role: str):
    user = get_user_model().objects.create_user(username, password="pw-" + username, is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def alice(tenant_a):
    """Owner of tenant A."""
    return _member("alice", tenant_a, Membership.Role.OWNER)


@pytest.fixture
def bob(tenant_a):
    """Read-only member of tenant A."""
    return _member("bob", tenant_a, Membership.Role.VIEWER)


@pytest.fixture
def charlie(tenant_b):
    """Owner of tenant B: an outsider to tenant A."""
    return _member("charlie", tenant_b, Membership.Role.OWNER)


@pytest.fixture
def top_app(db) -> TopApp:
    return TopApp.objects.create(
        name="Test app",
        app_key="12345678",
        app_secret="helloworld",
        gateway_url="http://127.0.0.1:9/router/rest",
        calls_per_minute=600,
    )


@pytest.fixture
def shop_a(tenant_a, top_app) -> Shop:
    return Shop.objects.create(
        tenant=tenant_a, app=top_app, seller_nick="seller-a", seller_id=1001, session_key="sk-a"
    )


@pytest.fixture
def shop_b(tenant_b, top_app) -> Shop:
    return Shop.objects.create(
        tenant=tenant_b, app=top_app, seller_nick="seller-b", seller_id=2002, session_key="sk-b"
    )
