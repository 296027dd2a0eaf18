"""Each endpoint's health (backlog, oldest pending age, 24-hour success rate) in the API, the
console and /metrics, for its own tenant only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.api import client_for
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.webhooks.health import endpoint_health
from trades.webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db


def deliveries(endpoint, *, pending: int, succeeded: int, failed_attempts: int) -> None:
    now = timezone.now()
    event = WebhookEvent.objects.create(tenant=endpoint.tenant, type=EventType.TRADE_CREATED)
    for n in range(pending):
        delivery = WebhookDelivery.objects.create(
            tenant=endpoint.tenant, endpoint=endpoint, event=event
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            created_at=now - timedelta(minutes=10 * (n + 1))
        )
    done = WebhookDelivery.objects.create(
        tenant=endpoint.tenant, endpoint=endpoint, event=event, state="succeeded"
    )
    outcomes = ["success"] * succeeded + ["timeout"] * failed_attempts
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(delivery=done, number=i + 1, started_at=now, duration_ms=5, outcome=o)
        for i, o in enumerate(outcomes)
    )


def test_health_counts_backlog_oldest_and_success_rate(endpoint):
    deliveries(endpoint, pending=3, succeeded=3, failed_attempts=1)
    health = endpoint_health([endpoint.pk])[endpoint.pk]
    assert health.backlog == 3 and health.attempts_24h == 4
    assert health.success_rate_24h == 0.75
    assert 29 * 60 < health.oldest_pending_seconds < 31 * 60


def test_api_shows_health_to_the_tenant_only(endpoint, tenant_a, tenant_b, bob):
    deliveries(endpoint, pending=2, succeeded=1, failed_attempts=1)
    reader = client_for(create_api_key(tenant_a, "BI", ApiKey.Scope.READ, created_by=bob).token)
    outsider = client_for(create_api_key(tenant_b, "B", ApiKey.Scope.READ).token)
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/"
    health = reader.get(url).json()["health"]
    assert (health["backlog"], health["success_rate_24h"]) == (2, 0.5)
    listed = reader.get("/api/v1/webhook-endpoints/").json()["results"]
    assert [e["health"]["backlog"] for e in listed] == [2]
    assert outsider.get(url).status_code == 404
    assert outsider.get("/api/v1/webhook-endpoints/").json()["results"] == []


def test_console_lists_health_and_metrics_carry_it(client, endpoint, alice, charlie):
    deliveries(endpoint, pending=1, succeeded=1, failed_attempts=0)
    client.force_login(alice)
    page = client.get("/admin/trades/webhookendpoint/").content.decode()
    assert "Success 24h" in page and "100.0%" in page
    client.force_login(charlie)
    assert endpoint.url not in client.get("/admin/trades/webhookendpoint/").content.decode()
    body = client.get("/metrics").content.decode()
    labels = f'tenant="{endpoint.tenant.slug}",endpoint_id="{endpoint.pk}"'
    assert f"ordersync_webhook_endpoint_backlog{{{labels}}} 1" in body
    assert f"ordersync_webhook_endpoint_success_ratio{{{labels}}} 1.0" in body
