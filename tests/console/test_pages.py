"""Pages answer the operator's next question: runs, deliveries, trades, shops."""

from __future__ import annotations

import socket
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from shops import actions
from shops.models import SyncRun
from tests.support.console import T0, record_history
from trades.webhooks.delivery import connection_error
from trades.webhooks.models import WebhookAttempt

pytestmark = pytest.mark.django_db


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return unescape(response.content.decode())


def test_a_run_shows_its_start_duration_and_exact_window(client, world, alice):
    run = world["a"]["syncrun"]
    SyncRun.objects.filter(pk=run.pk).update(
        started_at=T0,
        finished_at=T0 + timedelta(seconds=42),
        window_start=T0 - timedelta(minutes=35),
        window_end=T0 - timedelta(minutes=5),
    )
    client.force_login(alice)
    html = page(client, f"/admin/shops/syncrun/{run.pk}/change/")
    assert "2026-11-11 10:00:00 +08:00" in html  # started
    assert "42.0 s" in html  # duration
    assert "2026-11-11 09:25:00 +08:00 → 2026-11-11 09:55:00 +08:00 (30 min 0 s)" in html
    listing = page(client, "/admin/shops/syncrun/").lower()
    assert "started (+08:00)" in listing and "11-11 10:00:00" in listing and "42.0 s" in listing


def test_a_delivery_shows_request_and_response_bodies_and_a_readable_error(client, world, alice):
    delivery = world["a"]["webhookdelivery"]
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=T0,
        duration_ms=12,
        outcome="http_error",
        status_code=500,
        response_body='{"error": "receiver down"}',
        error="HTTP 500",
    )
    client.force_login(alice)
    html = page(client, f"/admin/trades/webhookdelivery/{delivery.pk}/change/")
    assert '"type": "webhook.test"' in html and f'"id": "{delivery.event.public_id}"' in html
    assert '{"error": "receiver down"}' in html and "HTTP 500" in html


def test_a_host_that_does_not_resolve_is_named_not_a_gaierror():
    error = OSError("Failed to resolve")
    error.__cause__ = socket.gaierror(-2, "Name or service not known")
    text = connection_error(error, "https://hooks.nowhere.invalid/orders")
    assert text == "connection failed: could not resolve host hooks.nowhere.invalid (DNS)"
    assert "Errno" not in text


def test_a_trade_shows_sub_orders_before_raw_json_and_its_status_history(client, world, alice):
    trade = world["a"]["trade"]
    record_history(trade, [(None, "WAIT_BUYER_PAY", 0), ("WAIT_BUYER_PAY", "TRADE_FINISHED", 9)])
    client.force_login(alice)
    html = page(client, f"/admin/trades/trade/{trade.pk}/change/")
    assert html.index("Sub-orders") < html.index("Status history") < html.index('"title": "茶"')
    history = html[html.index("Status history") :]
    # each status with the platform's name beside its code
    pay, finished = (
        f'{name} <code class="status-code">{code}</code>'
        for name, code in (
            ("waiting for the buyer to pay", "WAIT_BUYER_PAY"),
            ("trade finished", "TRADE_FINISHED"),
        )
    )
    assert f"11-11 10:00:00</td><td>(new)</td><td>{pay}" in history
    assert f"11-11 10:09:00</td><td>{pay}</td><td>{finished}" in history


def test_a_shop_shows_its_next_run_and_reads_healthy_or_degraded_in_words(client, alice, shop_a):
    actions.ensure_checkpoints(shop_a)
    from shops.schedules import sync_schedules

    sync_schedules(shop_a)
    client.force_login(alice)
    listing = page(client, "/admin/shops/shop/").lower()
    assert "next sync (+08:00)" in listing and "not scheduled" not in listing
    assert '<td class="field-sync_mode">healthy</td>' in listing
    assert "icon-no" not in listing  # no red ✗ for a healthy shop
    actions.set_degraded(shop_a, True, "trades: all 3 runs failed over 16 min since …")
    listing = page(client, "/admin/shops/shop/")
    assert "degraded</span>" in listing
    html = page(client, f"/admin/shops/shop/{shop_a.pk}/change/")
    assert "trades: all 3 runs failed over 16 min since …" in html
    since = timezone.localtime(shop_a.degraded_since)
    assert f"{since:%Y-%m-%d %H:%M:%S} +08:00" in html
    dashboard = page(client, "/admin/dashboard/")
    assert f"since {since:%Y-%m-%d %H:%M:%S} CST: trades: all 3 runs failed" in dashboard
