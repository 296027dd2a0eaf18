"""Webhooks in the admin (scoped to the user's tenants) and in /metrics."""

from __future__ import annotations

import pytest

from tests.webhooks.conftest import wire_trade
from trades.sync.write import write_trades
from trades.webhook_models import WebhookDelivery, WebhookEndpoint
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.runner import deliver_batch

pytestmark = pytest.mark.django_db


def test_owner_adds_an_endpoint_and_sees_the_secret_once(client, alice, tenant_a, receiver):
    client.force_login(alice)
    response = client.post(
        "/admin/trades/webhookendpoint/add/",
        {
            "tenant": tenant_a.pk,
            "url": receiver.url,
            "description": "ERP",
            "event_types": ["trade.created", "refund.created"],
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(tenant=tenant_a)
    assert endpoint.event_types == ["refund.created", "trade.created"]
    shown = [str(m) for m in response.context["messages"]]
    assert any("whsec_" in m and endpoint.secrets.get().secret in m for m in shown)


def test_endpoints_and_deliveries_are_scoped(
    client, alice, bob, charlie, tenant_a, tenant_b, shop_a, receiver
):
    mine = create_endpoint(tenant_a, receiver.url + "?a", ["trade.created"]).endpoint
    theirs = create_endpoint(tenant_b, receiver.url + "?b", ["trade.created"]).endpoint
    write_trades(shop_a, [wire_trade()])
    delivery = WebhookDelivery.objects.get()

    client.force_login(alice)
    page = client.get("/admin/trades/webhookendpoint/").content.decode()
    assert "?a" in page and "?b" not in page
    assert client.get(f"/admin/trades/webhookendpoint/{theirs.pk}/change/").status_code in (
        302,
        404,
    )
    assert client.get(f"/admin/trades/webhookdelivery/{delivery.pk}/change/").status_code == 200

    client.force_login(bob)  # a viewer sees, but changes nothing
    assert client.get("/admin/trades/webhookendpoint/").status_code == 200
    client.post(
        "/admin/trades/webhookdelivery/",
        {"action": "redeliver_selected", "_selected_action": [delivery.pk]},
    )
    client.force_login(charlie)
    assert "?a" not in client.get("/admin/trades/webhookendpoint/").content.decode()
    assert client.get(f"/admin/trades/webhookdelivery/{delivery.pk}/change/").status_code in (
        302,
        404,
    )
    assert mine.is_active


def test_redeliver_action(client, alice, shop_a, endpoint, receiver):
    write_trades(shop_a, [wire_trade()])
    deliver_batch()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "succeeded"
    client.force_login(alice)
    client.post(
        "/admin/trades/webhookdelivery/",
        {"action": "redeliver_selected", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.attempts == 0


def test_metrics_count_attempts_by_outcome(client, shop_a, endpoint, receiver):
    write_trades(shop_a, [wire_trade(tid=1)])
    deliver_batch()
    receiver.behaviour.status = 500
    write_trades(shop_a, [wire_trade(tid=2)])
    deliver_batch()
    text = client.get("/metrics").content.decode()
    assert 'ordersync_webhook_deliveries_total{outcome="success"} 1' in text
    assert 'ordersync_webhook_deliveries_total{outcome="http_error"} 1' in text
    assert "ordersync_webhook_deliveries_pending 1" in text
