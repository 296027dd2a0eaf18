"""Tenant admins manage their own tenant's keys in the admin; viewers and outsiders do not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from trades.api.key_models import ApiKey
from trades.api.keys import (
    KeyExpiryRefused,
    change_key_expiry,
    create_api_key,
    find_api_key,
    rotate_api_key,
)

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
    # alice administers one tenant: the form fills it in, a posted tenant is ignored
    response = client.post(
        "/admin/trades/apikey/add/", {"tenant": tenant_b.pk, "name": "x", "scope": "read"}
    )
    assert response.status_code == 302
    assert [key.tenant for key in ApiKey.objects.filter(name="x")] == [tenant_a]

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


def _edit_expiry(client, key: ApiKey, when) -> None:
    local = timezone.localtime(when) if when else None
    client.post(
        f"/admin/trades/apikey/{key.pk}/change/",
        {
            "name": key.name,
            "expires_at_0": local.strftime("%Y-%m-%d") if local else "",
            "expires_at_1": local.strftime("%H:%M:%S") if local else "",
        },
    )


def test_an_expired_or_rotated_out_key_cannot_be_revived(client, alice, tenant_a):
    client.force_login(alice)
    expired = create_api_key(tenant_a, "old", expires_at=timezone.now() - timedelta(days=1))
    old = create_api_key(tenant_a, "ERP")
    rotate_api_key(old.key, grace=timedelta(hours=1))
    ApiKey.objects.filter(pk=old.key.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    later = timezone.now() + timedelta(days=30)
    for issued in (expired, old):
        _edit_expiry(client, issued.key, later)
        _edit_expiry(client, issued.key, None)
        assert find_api_key(issued.token) is None
        issued.key.refresh_from_db()
        assert issued.key.expires_at < timezone.now()
    assert change_key_expiry_refused(old.key, later)


def change_key_expiry_refused(key: ApiKey, when) -> bool:
    try:
        change_key_expiry(key, when)
    except KeyExpiryRefused:
        return True
    return False


def test_a_live_keys_expiry_only_comes_forward(client, alice, tenant_a):
    client.force_login(alice)
    in_a_week = timezone.now().replace(microsecond=0) + timedelta(days=7)
    issued = create_api_key(tenant_a, "ERP", expires_at=in_a_week)
    _edit_expiry(client, issued.key, in_a_week + timedelta(days=30))
    _edit_expiry(client, issued.key, None)
    issued.key.refresh_from_db()
    assert issued.key.expires_at == in_a_week
    tomorrow = in_a_week - timedelta(days=6)
    _edit_expiry(client, issued.key, tomorrow)
    issued.key.refresh_from_db()
    assert issued.key.expires_at == tomorrow
    assert find_api_key(issued.token) is not None
