"""The audit log: recorded by the actions whoever calls them, with who, when and from where;
append-only in the database; each tenant's owners see theirs, operators all, others nothing."""

from __future__ import annotations

import json

import pytest
from django.db import DatabaseError, connection, transaction

from shops import audit
from shops.audit.models import AuditEntry
from shops.models import Shop, TopApp
from tests.support.api import client_for
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key, rotate_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_key(tenant_a, alice):
    return create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE, created_by=alice)


@pytest.fixture
def operator(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("olga", password="pw-olga")


def test_entries_cannot_be_changed_or_deleted(tenant_a):
    entry = audit.record(audit.Action.WEBHOOK_REPLAY, tenant=tenant_a, details={"events": 3})
    for statement in (
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(actor="someone else"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE shops_auditentry SET changes = '{}'")
    assert AuditEntry.objects.get(pk=entry.pk).actor == "system"


def test_the_replay_hook_takes_known_actions_only(tenant_a):
    entry = audit.record("webhook.replay", tenant=tenant_a, details={"endpoint": 3, "token": "x"})
    assert entry.details == {"endpoint": 3, "token": "••••••"}  # secret-looking keys masked
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record("webhook.replayed", tenant=tenant_a)


def test_api_changes_name_the_key_its_address_and_the_diff(owner_key, tenant_a):
    client = client_for(owner_key.token)
    ua = {"HTTP_USER_AGENT": "erp-sync/4.2", "REMOTE_ADDR": "203.0.113.7"}
    body = {"url": "https://erp.example.com/h", "event_types": ["trade.created"]}
    created = client.post("/api/v1/webhook-endpoints/", body, format="json", **ua)
    assert created.status_code == 201, created.content
    url = f"/api/v1/webhook-endpoints/{created.json()['id']}/"
    change = {"event_types": ["trade.created", "refund.created"]}
    assert client.patch(url, change, format="json", **ua).status_code == 200
    entry = AuditEntry.objects.get(action="webhook_endpoint.changed")
    assert (entry.tenant_id, entry.actor_kind, entry.actor_key_id) == (
        tenant_a.pk,
        "api_key",
        owner_key.key.pk,
    )
    assert (entry.ip, entry.user_agent) == ("203.0.113.7", "erp-sync/4.2")
    assert entry.changes == {
        "event_types": [["trade.created"], ["refund.created", "trade.created"]]
    }
    created_entry = AuditEntry.objects.get(action="webhook_endpoint.created")
    assert "secret" not in json.dumps(created_entry.changes)


def test_key_lifecycle_is_recorded(tenant_a, alice, owner_key):
    issued = rotate_api_key(owner_key.key)
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["api_key.created", "api_key.rotated", "api_key.revoked"]
    rotated = AuditEntry.objects.get(action="api_key.rotated")
    assert rotated.details["new_key_id"] == issued.key.pk
    created = AuditEntry.objects.get(action="api_key.created")
    assert created.changes["token_hash"][1].startswith("••••••")  # never the hash itself


def test_three_actors_in_the_api(owner_key, tenant_a, tenant_b, charlie, bob):
    audit.record(audit.Action.SHOP_PAUSED, tenant=tenant_b)
    own = client_for(owner_key.token).get("/api/v1/audit/").json()["results"]
    assert {row["action"] for row in own} == {"api_key.created"}
    outsider = create_api_key(tenant_b, "B", ApiKey.Scope.READ_WRITE, created_by=charlie)
    theirs = client_for(outsider.token).get("/api/v1/audit/").json()["results"]
    assert all(row["id"] != own[0]["id"] for row in theirs)
    assert client_for(outsider.token).get(f"/api/v1/audit/{own[0]['id']}/").status_code == 404
    reader = create_api_key(tenant_a, "BI", ApiKey.Scope.READ, created_by=bob)
    assert client_for(reader.token).get("/api/v1/audit/").status_code == 403
    bad = client_for(owner_key.token).get("/api/v1/audit/", {"action": "nope"})
    assert bad.status_code == 400


def test_the_log_exports_like_data(owner_key, tenant_a):
    client = client_for(owner_key.token)
    lines = b"".join(client.get("/api/v1/exports/audit/").streaming_content).splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows[0]["action"] == "api_key.created" and rows[-1]["end"] and rows[-1]["rows"] == 1
    csv = b"".join(client.get("/api/v1/exports/audit/", {"format": "csv"}).streaming_content)
    assert csv.decode().splitlines()[0].startswith("id,at,actor_kind,actor")
    assert client.get("/api/v1/exports/audit/", {"shop": 1}).status_code == 400


def test_console_actions_and_settings_changes(client, alice, shop_a, operator, top_app):
    client.force_login(alice)
    changelist = "/admin/shops/shop/"
    body = {"action": "pause", "_selected_action": [shop_a.pk]}
    client.post(changelist, body, REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="Firefox")
    paused = AuditEntry.objects.get(action="shop.paused")
    assert (paused.actor, paused.actor_kind, paused.ip) == ("alice", "member", "198.51.100.4")
    assert paused.changes == {"status": ["active", "paused"]}

    client.force_login(operator)
    form = {
        "name": top_app.name,
        "app_key": top_app.app_key,
        "gateway_url": top_app.gateway_url,
        "authorize_url": top_app.authorize_url,
        "token_url": top_app.token_url,
        "sign_method": top_app.sign_method,
        "calls_per_minute": 900,
        "new_app_secret": "brand-new-secret",
    }
    response = client.post(f"/admin/shops/topapp/{top_app.pk}/change/", form)
    assert response.status_code == 302, response.content
    changed = AuditEntry.objects.get(action="admin.changed", object_type="shops.topapp")
    assert changed.actor_kind == "operator" and changed.tenant_id is None
    assert changed.changes["calls_per_minute"] == [600, 900]
    assert changed.changes["app_secret"] == ["••••••", "•••••• (new)"]
    assert "brand-new-secret" not in json.dumps(changed.changes)
    assert TopApp.objects.get().calls_per_minute == 900


def test_deleting_a_shop_in_the_console_is_a_disconnection(client, operator, shop_a):
    client.force_login(operator)
    client.post(f"/admin/shops/shop/{shop_a.pk}/delete/", {"post": "yes"})
    assert not Shop.objects.filter(pk=shop_a.pk).exists()
    gone = AuditEntry.objects.get(action="shop.disconnected")
    assert gone.tenant_id == shop_a.tenant_id and gone.changes["seller_nick"][0] == "seller-a"


def test_three_actors_in_the_console(client, alice, bob, charlie, tenant_a, tenant_b, operator):
    mine = audit.record(audit.Action.SHOP_PAUSED, tenant=tenant_a)
    theirs = audit.record(audit.Action.SHOP_RESUMED, tenant=tenant_b)
    url = "/admin/shops/auditentry/"

    def seen(user) -> set[int]:
        client.force_login(user)
        response = client.get(url)
        if response.status_code != 200:
            return set()
        return {pk for pk in (mine.pk, theirs.pk) if f"/{pk}/change/" in response.content.decode()}

    assert seen(alice) == {mine.pk}
    assert seen(charlie) == {theirs.pk}
    assert seen(bob) == set()  # a viewer is not an owner
    client.force_login(bob)
    assert client.get(f"{url}{mine.pk}/change/").status_code in (403, 404)
    assert seen(operator) == {mine.pk, theirs.pk}
    client.force_login(alice)
    assert client.get(f"{url}{theirs.pk}/change/").status_code == 404
    exported = b"".join(client.get(f"{url}export/", {"format": "ndjson"}).streaming_content)
    ids = [json.loads(line).get("id") for line in exported.splitlines()]
    assert mine.pk in ids and theirs.pk not in ids


def test_commands_name_the_host_user(tenant_a, capsys):
    from django.core.management import call_command

    call_command("create_api_key", tenant_a.slug, "nightly export")
    entry = AuditEntry.objects.get(action="api_key.created")
    assert entry.actor_kind == "system" and entry.actor.startswith("manage.py create_api_key (")
    assert capsys.readouterr().out.startswith("osk_")


def test_members_invited_changed_and_removed_in_the_console(client, alice, tenant_a):
    client.force_login(alice)
    body = {"username": "erin", "email": "", "tenant": tenant_a.pk, "role": "viewer"}
    assert client.post("/admin/shops/membership/add/", body).status_code == 302
    added = AuditEntry.objects.get(action="admin.added", object_type="shops.membership")
    assert added.actor == "alice" and added.changes["role"] == [None, "viewer"]
    membership = tenant_a.memberships.get(user__username="erin")
    change = {"role": "admin"}
    url = f"/admin/shops/membership/{membership.pk}/change/"
    assert client.post(url, change).status_code == 302
    changed = AuditEntry.objects.get(action="admin.changed", object_type="shops.membership")
    assert changed.changes == {"role": ["viewer", "admin"]}
    body = {"action": "remove_members", "_selected_action": [membership.pk]}
    client.post("/admin/shops/membership/", body)
    removed = AuditEntry.objects.get(action="admin.deleted", object_type="shops.membership")
    assert removed.changes["role"] == ["admin", None] and removed.tenant_id == tenant_a.pk
    assert AuditEntry.objects.filter(object_type="shops.membership").count() == 3


def test_a_schedule_change_is_a_diff_of_what_changed(client, alice, shop_a):
    client.force_login(alice)
    body = {
        "interval_mode": "fixed",
        "interval_minutes": 7,
        "sync_runs-TOTAL_FORMS": 0,
        "sync_runs-INITIAL_FORMS": 0,
    }
    assert client.post(f"/admin/shops/shop/{shop_a.pk}/change/", body).status_code == 302
    entry = AuditEntry.objects.get(action="admin.changed")
    assert entry.changes == {"interval_minutes": [None, 7], "interval_mode": ["auto", "fixed"]}
    assert (entry.object_type, entry.object_id) == ("shops.shop", str(shop_a.pk))


def test_an_operator_setting_a_password_is_recorded_masked(client, operator, bob):
    client.force_login(operator)
    url = f"/admin/auth/user/{bob.pk}/password/"
    body = {"password1": "a-long-new-pw-9", "password2": "a-long-new-pw-9"}
    assert client.post(url, body).status_code == 302
    entry = AuditEntry.objects.get(action="admin.changed", object_type="auth.user")
    assert entry.changes["password"] == ["••••••", "•••••• (new)"]
    assert entry.actor == "olga" and entry.tenant_id is None
