"""One mixin scopes every tenant-owned admin: owner (alice), admin (dave), viewer (bob),
outsider (charlie), and erin, who holds different roles in two tenants."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from shops.console.tenancy import TenantScopedAdmin
from shops.models import Checkpoint, Membership, Shop, Tenant
from tests.support import actors
from tests.support.console import one_of_each
from trades.api.key_models import ApiKey

pytestmark = pytest.mark.django_db

APP = {
    "tenant": "shops",
    "membership": "shops",
    "shop": "shops",
    "checkpoint": "shops",
    "syncrun": "shops",
    "trade": "trades",
    "refund": "trades",
    "reconcilereport": "trades",
    "apikey": "trades",
    "webhookendpoint": "trades",
    "webhookdelivery": "trades",
    "tmcshop": "trades",
    "presalereservation": "trades",
    "stalledparcel": "trades",
    "jdpshop": "trades",
    "shopchannels": "trades",
    "auditentry": "shops",
    "suggestion": "trades",
    "replenishsettings": "trades",
    "webhookreplay": "trades",
}
MODELS = list(APP)
# synced data and logs: nobody edits them in the admin
READ_ONLY = {
    "checkpoint",
    "syncrun",
    "trade",
    "refund",
    "reconcilereport",
    "webhookdelivery",
    "tmcshop",
    "presalereservation",
    "stalledparcel",
    "shopchannels",
    "auditentry",
    "suggestion",
    "webhookreplay",  # asked for once (the add form), then followed, never edited
}
# viewers do not see API keys at all
HIDDEN_FROM_VIEWERS = {"apikey", "auditentry"}
# the audit log is the owners' (docs/audit-retention.md): admins do not see it either
OWNERS_ONLY = {"auditentry"}
# what the admin role changes and adds (docs/console.md: act on shops, schedules, API keys,
# webhooks); adding a shop means connecting it, so its add page redirects to the connect form
ADMIN_CHANGES = {"shop", "apikey", "webhookendpoint", "jdpshop", "replenishsettings"}
ADMIN_ADDS = {
    "shop": 302,
    "apikey": 200,
    "webhookendpoint": 200,
    "jdpshop": 200,
    "webhookreplay": 200,
}


@pytest.fixture(scope="module")
def shared_rows(django_db_setup, django_db_blocker):
    """The actors and the world every test here reads, written once for the module (they were
    a tenth of a second of each test's setup) and rolled back at its end; what a test writes
    is rolled back after it (tests/support/actors.py)."""
    with actors.written_once(django_db_blocker):
        tenant_a, tenant_b, app = actors.tenant("a"), actors.tenant("b"), actors.top_app()
        role = Membership.Role
        yield {
            "alice": actors.member("alice", tenant_a, role.OWNER),
            "bob": actors.member("bob", tenant_a, role.VIEWER),
            "charlie": actors.member("charlie", tenant_b, role.OWNER),
            "dave": actors.member("dave", tenant_a, role.ADMIN),
            "operator": actors.operator(),
            "world": {
                "a": one_of_each(actors.shop(tenant_a, app, "a", 1001), 1_000_001),
                "b": one_of_each(actors.shop(tenant_b, app, "b", 2002), 2_000_001),
            },
        }


alice, bob, charlie, dave, operator, world = map(
    actors.copied, ("alice", "bob", "charlie", "dave", "operator", "world")
)


def url(model: str, suffix: str = "", pk: int | None = None) -> str:
    base = f"/admin/{APP[model]}/{model}/"
    return base + (f"{pk}/{suffix}" if pk is not None else suffix)


def listed(client, model: str) -> set[int]:
    response = client.get(url(model))
    assert response.status_code == 200, response.status_code
    return {row.pk for row in response.context["cl"].result_list}


def test_every_tenant_owned_admin_uses_the_mixin():
    owned = []
    for model, model_admin in admin.site._registry.items():
        names = {f.name for f in model._meta.get_fields()}
        if model is Tenant or "tenant" in names or "shop" in names:
            owned.append(model._meta.model_name)
            assert isinstance(model_admin, TenantScopedAdmin), model
    assert sorted(owned) == sorted(MODELS)


@pytest.mark.parametrize("model", MODELS)
def test_changelist_shows_only_the_users_tenant(client, world, alice, charlie, model):
    a, b = world["a"][model].pk, world["b"][model].pk
    client.force_login(alice)
    mine = listed(client, model)
    assert a in mine and b not in mine
    client.force_login(charlie)
    theirs = listed(client, model)
    assert b in theirs and a not in theirs


@pytest.mark.parametrize("model", MODELS)
def test_another_tenants_object_is_not_found(client, world, alice, model):
    other = world["b"][model].pk
    client.force_login(alice)
    for suffix in ("change/", "delete/", "history/"):
        assert client.get(url(model, suffix, other)).status_code == 404, suffix
    assert client.post(url(model, "change/", other), {}).status_code == 404
    assert client.get(url(model, "change/", world["a"][model].pk)).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_viewer_sees_but_cannot_add_change_or_delete(client, world, bob, model):
    own = world["a"][model].pk
    client.force_login(bob)
    if model in HIDDEN_FROM_VIEWERS:
        assert client.get(url(model)).status_code == 403
        assert client.get(url(model, "change/", own)).status_code == 404
        assert client.get(url(model, "add/")).status_code == 403
        return
    assert own in listed(client, model)
    page = client.get(url(model, "change/", own))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert client.get(url(model, "add/")).status_code == 403
    assert client.post(url(model, "change/", own), {}).status_code == 403
    assert client.get(url(model, "delete/", own)).status_code == 403
    assert client.post(url(model, "delete/", own), {"post": "yes"}).status_code == 403
    assert type(world["a"][model]).objects.filter(pk=own).exists()


@pytest.mark.parametrize("model", sorted(READ_ONLY))
def test_synced_data_is_read_only_even_for_owners_and_operators(
    client, world, alice, operator, model
):
    own = world["a"][model].pk
    for user in (alice, operator):
        client.force_login(user)
        assert client.get(url(model, "change/", own)).context["has_change_permission"] is False
        assert client.post(url(model, "change/", own), {}).status_code == 403
        assert client.get(url(model, "delete/", own)).status_code == 403


@pytest.mark.parametrize("model", MODELS)
def test_operator_sees_every_tenant_with_a_tenant_column_and_filter(client, world, operator, model):
    client.force_login(operator)
    response = client.get(url(model))
    rows = {row.pk for row in response.context["cl"].result_list}
    assert {world["a"][model].pk, world["b"][model].pk} <= rows
    if model != "tenant":
        html = response.content.decode()
        assert "column-tenant" in html or "column-tenant_name" in html
        tenant_b = world["b"]["tenant"].pk
        filtered = client.get(url(model), {"tenant": tenant_b})
        pks = {row.pk for row in filtered.context["cl"].result_list}
        assert world["b"][model].pk in pks and world["a"][model].pk not in pks


def test_owner_changes_own_rows(client, world, alice, dave):
    shop = world["a"]["shop"]
    client.force_login(dave)  # an admin may change the shop's schedule
    response = client.post(
        url("shop", "change/", shop.pk),
        {
            "interval_mode": "fixed",
            "interval_minutes": 7,
            "sync_runs-TOTAL_FORMS": 0,
            "sync_runs-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    shop.refresh_from_db()
    assert (shop.interval_mode, shop.interval_minutes) == ("fixed", 7)
    # but only an owner renames the tenant or deletes
    assert (
        client.get(url("tenant", "change/", shop.tenant_id)).context["has_change_permission"]
        is False
    )
    assert client.get(url("shop", "delete/", shop.pk)).status_code == 403
    client.force_login(alice)
    response = client.post(
        url("tenant", "change/", shop.tenant_id), {"name": "Tenant A Ltd", "slug": "tenant-a"}
    )
    assert response.status_code == 302
    assert Tenant.objects.get(pk=shop.tenant_id).name == "Tenant A Ltd"


def test_foreign_key_choices_are_scoped(world, alice, charlie, operator):
    request = RequestFactory().get("/")
    for user, expected, hidden in (
        (alice, world["a"], world["b"]),
        (charlie, world["b"], world["a"]),
    ):
        request = RequestFactory().get("/")
        request.user = user
        checkpoints = admin.site._registry[Checkpoint]
        field = checkpoints.formfield_for_foreignkey(Checkpoint._meta.get_field("shop"), request)
        assert list(field.queryset) == [expected["shop"]]
        keys = admin.site._registry[ApiKey]
        field = keys.formfield_for_foreignkey(ApiKey._meta.get_field("tenant"), request)
        assert list(field.queryset) == [expected["tenant"]]
        assert hidden["tenant"] not in field.queryset
    request.user = operator
    field = admin.site._registry[Checkpoint].formfield_for_foreignkey(
        Checkpoint._meta.get_field("shop"), request
    )
    assert set(field.queryset) == set(Shop.objects.all())


def test_api_key_add_form_fills_in_the_only_tenant_whatever_is_posted(client, world, alice):
    client.force_login(alice)
    assert 'type="hidden" name="tenant"' in client.get(url("apikey", "add/")).content.decode()
    other = world["b"]["tenant"].pk
    response = client.post(url("apikey", "add/"), {"tenant": other, "name": "x", "scope": "read"})
    assert response.status_code == 302
    assert [key.tenant for key in ApiKey.objects.filter(name="x")] == [world["a"]["tenant"]]


def test_a_user_of_several_tenants_picks_among_their_own(client, world, alice, charlie):
    Membership.objects.create(user=alice, tenant=world["b"]["tenant"], role="viewer")
    Membership.objects.create(user=charlie, tenant=world["a"]["tenant"], role="admin")
    client.force_login(charlie)  # writes to both tenants now: a list of the two
    html = client.get(url("apikey", "add/")).content.decode()
    assert html.count("<option value=") >= 2 and 'type="hidden" name="tenant"' not in html
    client.force_login(alice)  # owner of A, viewer of B: A is filled in
    assert 'type="hidden" name="tenant"' in client.get(url("apikey", "add/")).content.decode()


def test_shop_filter_offers_only_the_users_shops(client, world, alice):
    client.force_login(alice)
    html = client.get(url("trade")).content.decode()
    assert "seller-a" in html and "seller-b" not in html


@pytest.mark.parametrize("model", MODELS)
def test_admin_role_changes_what_the_readme_allows_and_deletes_nothing(client, world, dave, model):
    own, other = world["a"][model].pk, world["b"][model].pk
    client.force_login(dave)
    if model in OWNERS_ONLY:
        assert client.get(url(model)).status_code == 403
        assert client.get(url(model, "change/", own)).status_code == 404
        return
    mine = listed(client, model)
    assert own in mine and other not in mine
    assert client.get(url(model, "change/", other)).status_code == 404
    page = client.get(url(model, "change/", own))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is (model in ADMIN_CHANGES)
    assert client.get(url(model, "add/")).status_code == ADMIN_ADDS.get(model, 403)
    if model not in ADMIN_CHANGES:
        assert client.post(url(model, "change/", own), {}).status_code == 403
    assert client.get(url(model, "delete/", own)).status_code == 403
    assert client.post(url(model, "delete/", own), {"post": "yes"}).status_code == 403
    assert type(world["a"][model]).objects.filter(pk=own).exists()


@pytest.fixture
def erin(world):
    """Viewer of tenant A and owner of tenant B."""
    user = get_user_model().objects.create_user("erin", password="pw-erin", is_staff=True)
    Membership.objects.create(user=user, tenant=world["a"]["tenant"], role=Membership.Role.VIEWER)
    Membership.objects.create(user=user, tenant=world["b"]["tenant"], role=Membership.Role.OWNER)
    return user


@pytest.mark.parametrize("model", MODELS)
def test_each_tenant_gets_the_role_held_there(client, world, erin, model):
    viewed, owned = world["a"][model].pk, world["b"][model].pk
    client.force_login(erin)
    rows = listed(client, model)
    assert owned in rows and (viewed in rows) is (model not in HIDDEN_FROM_VIEWERS)
    owned_page = client.get(url(model, "change/", owned))
    assert owned_page.context["has_change_permission"] is (model not in READ_ONLY)
    if model in HIDDEN_FROM_VIEWERS:
        assert client.get(url(model, "change/", viewed)).status_code == 404
        return
    viewed_page = client.get(url(model, "change/", viewed))
    assert viewed_page.status_code == 200
    assert viewed_page.context["has_change_permission"] is False
    assert client.post(url(model, "change/", viewed), {}).status_code == 403
    assert client.post(url(model, "delete/", viewed), {"post": "yes"}).status_code == 403
    assert type(world["a"][model]).objects.filter(pk=viewed).exists()


def test_bulk_actions_of_a_user_with_two_roles_touch_only_the_owned_tenant(client, world, erin):
    viewed, owned = world["a"]["shop"], world["b"]["shop"]
    both = [viewed.pk, owned.pk]
    client.force_login(erin)
    deleting = {"action": "delete_selected", "_selected_action": both}
    confirm = client.post(url("shop"), deleting)
    assert confirm.status_code == 200 and confirm.context["perms_lacking"] == {"shop"}
    client.post(url("shop"), {**deleting, "post": "yes"})
    assert Shop.objects.filter(pk__in=both).count() == 2
    pausing = {"action": "pause", "_selected_action": both}
    assert client.post(url("shop"), pausing).status_code == 302
    statuses = dict(Shop.objects.filter(pk__in=both).values_list("pk", "status"))
    assert statuses == {viewed.pk: Shop.Status.ACTIVE, owned.pk: Shop.Status.PAUSED}
    # alone, the owned shop is deleted
    client.post(url("shop"), {**deleting, "_selected_action": [owned.pk], "post": "yes"})
    assert list(Shop.objects.filter(pk__in=both).values_list("pk", flat=True)) == [viewed.pk]


def test_foreign_key_choices_of_a_user_with_two_roles_are_the_writable_tenant(world, erin):
    request = RequestFactory().get("/")
    request.user = erin
    keys = admin.site._registry[ApiKey]
    field = keys.formfield_for_foreignkey(ApiKey._meta.get_field("tenant"), request)
    assert list(field.queryset) == [world["b"]["tenant"]]
    checkpoints = admin.site._registry[Checkpoint]
    field = checkpoints.formfield_for_foreignkey(Checkpoint._meta.get_field("shop"), request)
    assert list(field.queryset) == [world["b"]["shop"]]
