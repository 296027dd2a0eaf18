"""Tenant admins manage their own tenant's keys in the admin; viewers and outsiders do not."""

from __future__ import annotations

import pytest

from trades.api.keys import create_api_key
from trades.key_models import ApiKey

pytestmark = pytest.mark.django_db


def test_owner_creates_a_key_and_sees_the_token_once(client, alice, tenant_a):
    client.force_login(alice)
    response = client.post(
        "/admin/trades/apikey/add/",
        {"tenant": tenant_a.pk, "name": "ERP", "scope": "read"},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(tenant=tenant_a, name="ERP")
    assert (
        f"osk_{key.prefix}_" in response.content.decode()
    )  # tests/console/test_one_time_secrets.py
    assert key.created_by == alice


def test_keys_are_scoped_to_the_users_tenants(client, alice, bob, charlie, tenant_a, tenant_b):
    mine = create_api_key(tenant_a, "mine").key
    theirs = create_api_key(tenant_b, "theirs").key
    client.force_login(alice)
    page = client.get("/admin/trades/apikey/")
    assert page.status_code == 200
    assert mine.prefix in page.content.decode() and theirs.prefix not in page.content.decode()
    assert client.get(f"/admin/trades/apikey/{theirs.pk}/change/").status_code in (302, 404)
    # the tenant choice offers only tenants the user administers
    response = client.post(
        "/admin/trades/apikey/add/", {"tenant": tenant_b.pk, "name": "x", "scope": "read"}
    )
    assert response.status_code == 200 and not ApiKey.objects.filter(name="x").exists()

    client.force_login(bob)  # a viewer manages no keys
    assert client.get("/admin/trades/apikey/").status_code == 403
    client.force_login(charlie)
    assert mine.prefix not in client.get("/admin/trades/apikey/").content.decode()


def test_revoke_action(client, alice, tenant_a):
    key = create_api_key(tenant_a, "old").key
    client.force_login(alice)
    client.post(
        "/admin/trades/apikey/",
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_create_api_key_command(tenant_a, capsys):
    from django.core.management import call_command

    call_command("create_api_key", "tenant-a", "cli", "--scope", "read_write")
    token = capsys.readouterr().out.strip()
    key = ApiKey.objects.get(name="cli")
    assert token.startswith(f"osk_{key.prefix}_") and key.can_write
