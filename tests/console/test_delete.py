"""Deleting from the console: a shop or tenant goes with its read-only synced rows and its
schedules, for exactly the roles docs/console.md names."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from shops import schedules
from shops.models import Checkpoint, Membership, Shop, SyncRun, Tenant
from trades.feed.models import ChangeEvent
from trades.models import ReconcileReport, Refund, Trade, TradeLine
from trades.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db

SHOP_ROWS = (Checkpoint, SyncRun, Trade, Refund, ReconcileReport)


def shop_url(shop: Shop, suffix: str = "delete/") -> str:
    return f"/admin/shops/shop/{shop.pk}/{suffix}"


def schedule_names(shop: Shop) -> set[str]:
    """The due times the dispatcher would find for the shop (none once it is gone)."""
    row = Shop.objects.filter(pk=shop.pk).values("next_sync_at", "next_reconcile_at").first()
    return {name for name, at in (row or {}).items() if at}


@pytest.fixture
def scheduled(world):
    for side in ("a", "b"):
        schedules.sync_schedules(world[side]["shop"])
    return world


def test_owner_deletes_a_shop_with_its_synced_rows_and_schedules(client, scheduled, alice):
    shop, other = scheduled["a"]["shop"], scheduled["b"]["shop"]
    assert len(schedule_names(shop)) == 2
    client.force_login(alice)
    page = client.get(shop_url(shop))
    assert page.status_code == 200
    assert not page.context["perms_lacking"] and not page.context["protected"]
    counts = dict(page.context["model_count"])
    checkpoints = Checkpoint.objects.filter(shop=shop).count()
    trades = Trade.objects.filter(shop=shop).count()
    assert counts["trades"] == trades >= 1 and counts["checkpoints"] == checkpoints >= 3
    assert f"Trades: {trades}" in page.content.decode()

    response = client.post(shop_url(shop), {"post": "yes"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not Shop.objects.filter(pk=shop.pk).exists()
    for model in SHOP_ROWS:
        assert not model.objects.filter(shop_id=shop.pk).exists(), model
    assert not TradeLine.objects.filter(trade__shop_id=shop.pk).exists()
    assert schedule_names(shop) == set()
    # the other tenant keeps everything
    assert len(schedule_names(other)) == 2
    for model in SHOP_ROWS:
        assert model.objects.filter(shop_id=other.pk).exists(), model


def test_owner_deletes_selected_shops_with_the_bulk_action(client, scheduled, alice):
    shop = scheduled["a"]["shop"]
    client.force_login(alice)
    data = {"action": "delete_selected", "_selected_action": [shop.pk]}
    confirm = client.post("/admin/shops/shop/", data)
    assert confirm.status_code == 200 and not confirm.context["perms_lacking"]
    done = client.post("/admin/shops/shop/", {**data, "post": "yes"})
    assert done.status_code == 302
    assert not Shop.objects.filter(pk=shop.pk).exists()
    assert schedule_names(shop) == set()


def test_admins_and_viewers_may_not_delete_a_shop_and_outsiders_do_not_find_it(
    client, scheduled, dave, bob, charlie
):
    shop = scheduled["a"]["shop"]
    for user, status in ((dave, 403), (bob, 403), (charlie, 404)):
        client.force_login(user)
        assert client.get(shop_url(shop)).status_code == status, user
        assert client.post(shop_url(shop), {"post": "yes"}).status_code == status, user
        bulk = {"action": "delete_selected", "_selected_action": [shop.pk], "post": "yes"}
        client.post("/admin/shops/shop/", bulk)
        assert Shop.objects.filter(pk=shop.pk).exists(), user
    assert len(schedule_names(shop)) == 2


def test_owner_deletes_a_webhook_endpoint_with_its_deliveries(client, world, alice, dave):
    endpoint = world["a"]["webhookendpoint"]
    assert WebhookDelivery.objects.filter(endpoint=endpoint).exists()
    url = f"/admin/trades/webhookendpoint/{endpoint.pk}/delete/"
    client.force_login(dave)
    assert client.post(url, {"post": "yes"}).status_code == 403
    client.force_login(alice)
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).exists()


def test_only_operators_delete_a_tenant_with_everything_in_it(client, scheduled, alice, operator):
    tenant, shop = scheduled["a"]["tenant"], scheduled["a"]["shop"]
    url = f"/admin/shops/tenant/{tenant.pk}/delete/"
    client.force_login(alice)  # an owner may rename the tenant, not delete it
    assert client.post(url, {"post": "yes"}).status_code == 403
    client.force_login(operator)
    page = client.get(url)
    assert page.status_code == 200 and not page.context["perms_lacking"]
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not Shop.objects.filter(pk=shop.pk).exists()
    assert schedule_names(shop) == set()
    for model in (*SHOP_ROWS, ChangeEvent, WebhookEvent):
        assert not model.objects.filter(shop_id=shop.pk).exists(), model
    assert not Membership.objects.filter(tenant_id=tenant.pk).exists()
    assert get_user_model().objects.filter(pk=alice.pk).exists()  # users stay
    assert len(schedule_names(scheduled["b"]["shop"])) == 2


@pytest.mark.parametrize(
    "model,app",
    [("membership", "shops"), ("shop", "shops"), ("webhookendpoint", "trades")],
)
def test_owner_deletes_each_kind_of_row_owners_may_delete(client, world, alice, bob, model, app):
    row = Membership.objects.get(user=bob) if model == "membership" else world["a"][model]
    client.force_login(alice)
    url = f"/admin/{app}/{model}/{row.pk}/delete/"
    assert not client.get(url).context["perms_lacking"]
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not type(row).objects.filter(pk=row.pk).exists()
    assert type(row).objects.filter(pk=world["b"][model].pk).exists()


@pytest.mark.parametrize("model,app", [("tenant", "shops"), ("apikey", "trades")])
def test_nobody_but_operators_deletes_tenants_and_nobody_deletes_api_keys(
    client, world, alice, operator, model, app
):
    row = world["a"][model]
    url = f"/admin/{app}/{model}/{row.pk}/delete/"
    client.force_login(alice)
    assert client.post(url, {"post": "yes"}).status_code == 403
    client.force_login(operator)
    expected = 302 if model == "tenant" else 403  # keys are revoked, never deleted
    assert client.post(url, {"post": "yes"}).status_code == expected
    assert type(row).objects.filter(pk=row.pk).exists() is (model == "apikey")
