"""Webhooks in the admin (scoped to the user's tenants) and in /metrics."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.support.records import wire_trade
from trades.sync.write import write_trades
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent
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
    assert endpoint.secrets.get().secret in response.content.decode()


def test_endpoints_and_deliveries_are_scoped(
    client, alice, bob, charlie, tenant_a, tenant_b, shop_a, receiver
):
    mine = create_endpoint(tenant_a, receiver.url + "?a", ["trade.created"]).endpoint
    theirs = create_endpoint(tenant_b, receiver.url + "?b", ["trade.created"]).endpoint
    write_trades(shop_a, [wire_trade()])
    deliver_batch()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "succeeded"

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
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("succeeded", 1)  # not queued again
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


def add_deliveries(endpoint, count: int) -> None:
    events = WebhookEvent.objects.bulk_create(
        WebhookEvent(tenant_id=endpoint.tenant_id, type=EventType.TEST, data={"n": n})
        for n in range(count)
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            tenant_id=endpoint.tenant_id, endpoint=endpoint, event=e, next_attempt_at=timezone.now()
        )
        for e in events
    )


def delivery_list(client, params: dict | None = None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/trades/webhookdelivery/", params or {})
    assert response.status_code == 200
    return response, [q["sql"] for q in queries.captured_queries]


def test_delivery_list_never_counts_the_whole_table(client, alice, endpoint):
    client.force_login(alice)
    add_deliveries(endpoint, 5)
    _, small = delivery_list(client)
    add_deliveries(endpoint, 250)
    response, big = delivery_list(client)
    assert len(big) == len(small)
    assert len(response.context["cl"].result_list) == 100
    for sql in big:
        if re.search(r"COUNT\(", sql, re.I):
            assert "LIMIT" in sql.upper(), f"an unbounded count: {sql}"
    page2, sqls = delivery_list(client, {"p": 2})
    assert len(page2.context["cl"].result_list) == 100 and len(sqls) == len(small)


def test_tenant_staff_see_the_attempts_of_their_deliveries(
    client, alice, bob, charlie, shop_a, endpoint, receiver
):
    receiver.behaviour.status = 500
    write_trades(shop_a, [wire_trade()])
    deliver_batch()
    delivery = WebhookDelivery.objects.get()
    attempt = delivery.log.get()
    assert attempt.status_code == 500
    for user in (alice, bob):  # an owner and a viewer, neither with model permissions
        client.force_login(user)
        page = client.get(f"/admin/trades/webhookdelivery/{delivery.pk}/change/")
        assert page.status_code == 200
        formset = page.context["inline_admin_formsets"][0]
        assert [form.original for form in formset] == [attempt], user
        assert not formset.has_change_permission and not formset.has_delete_permission
    client.force_login(charlie)
    page = client.get(f"/admin/trades/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 404
