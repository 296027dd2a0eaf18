"""Before an endpoint is disabled for failing, its tenant is warned once per failure run: a
``webhook_endpoint.failing`` event to its other endpoints, a console banner, a metric."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.records import wire_trade
from tools.bench.receiver import Behaviour, Receiver
from trades.sync.write import write_trades
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import WebhookEndpoint
from trades.webhooks.runner import sweep_webhooks

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing(tenant_a):
    with Receiver(Behaviour(status=503)) as down:
        yield create_endpoint(tenant_a, down.url, ["trade.created"], "WMS").endpoint


def _fail_since(endpoint, hours: float) -> None:
    """The endpoint's failure run started ``hours`` ago, and a delivery of it is due now."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=hours)
    )


def _warnings(receiver) -> list[dict]:
    bodies = [json.loads(r.body) for r in receiver.received]
    return [b for b in bodies if b["type"] == "webhook_endpoint.failing"]


def test_the_tenant_is_warned_once_past_the_fraction(shop_a, failing, endpoint, receiver, settings):
    settings.WEBHOOKS_DISABLE_AFTER_HOURS = 24
    settings.WEBHOOKS_WARN_FRACTION = 0.5
    write_trades(shop_a, [wire_trade(tid=1)])
    _fail_since(failing, 11)  # below half of 24 h: no warning yet
    sweep_webhooks(requeue=False)
    assert _warnings(receiver) == []

    _fail_since(failing, 13)
    write_trades(shop_a, [wire_trade(tid=2)])
    sweep_webhooks(requeue=False)
    sweep_webhooks(requeue=False)  # the warning itself, to the healthy endpoint
    warned = _warnings(receiver)
    assert len(warned) == 1
    data = warned[0]["data"]
    assert data["endpoint"] == failing.pk and data["last_error"] == "HTTP 503"
    assert data["backlog"] >= 1 and data["disable_at"] > data["failing_since"]
    failing.refresh_from_db()
    assert failing.is_active and failing.failing_warned_at is not None

    write_trades(shop_a, [wire_trade(tid=3)])  # another failure of the same run: no repeat
    sweep_webhooks(requeue=False)
    sweep_webhooks(requeue=False)
    assert len(_warnings(receiver)) == 1


def test_a_success_ends_the_run_and_a_new_run_warns_again(
    shop_a, failing, endpoint, receiver, settings
):
    WebhookEndpoint.objects.filter(pk=failing.pk).update(
        failing_warned_at=timezone.now(), failing_since=timezone.now() - timedelta(hours=13)
    )
    with Receiver(Behaviour()) as up:
        WebhookEndpoint.objects.filter(pk=failing.pk).update(url=up.url)
        write_trades(shop_a, [wire_trade(tid=1)])
        sweep_webhooks(requeue=False)
    failing.refresh_from_db()
    assert failing.failing_since is None and failing.failing_warned_at is None


def test_console_banner_and_metric(client, alice, charlie, failing, settings):
    WebhookEndpoint.objects.filter(pk=failing.pk).update(
        failing_warned_at=timezone.now(), failing_since=timezone.now() - timedelta(hours=13)
    )
    client.force_login(alice)
    page = client.get("/admin/trades/webhookendpoint/").content.decode()
    assert "will be disabled" in page and failing.url in page
    client.force_login(charlie)
    assert "will be disabled" not in client.get("/admin/trades/webhookendpoint/").content.decode()

    settings.METRICS_TOKEN = ""
    metrics = client.get("/metrics").content.decode()
    name = "ordersync_webhook_endpoint_failing_seconds{"
    line = next(row for row in metrics.splitlines() if row.startswith(name))
    assert f'endpoint_id="{failing.pk}"' in line and float(line.split()[-1]) > 12 * 3600
