"""Health of the channels: the console page and ``/metrics`` per shop, and what the safety
polling finds that JDP missed."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from shops.models import Checkpoint
from shops.top import client_for_shop
from trades.jdp.models import JdpShop
from trades.sync.incremental import sync_shop

from .conftest import consume, wait_pushed


def test_console_and_metrics_show_each_channel_and_its_lag(
    client, gateway, enrolled_shop, alice, charlie
):
    shop = enrolled_shop("healthy", history_trades=20)
    wait_pushed(gateway)
    consume(shop)

    body = client.get("/metrics").content.decode()
    labels = f'tenant="tenant-a",shop_id="{shop.pk}",shop="healthy"'
    assert f'ordersync_channel_live{{{labels},channel="jdp"}} 1' in body
    assert f'ordersync_channel_live{{{labels},channel="tmc"}} 0' in body
    assert f'ordersync_channel_lag_seconds{{{labels},channel="jdp"}} 0' in body
    assert f'ordersync_jdp_changes_total{{{labels},kind="changes_written"}}' in body

    client.force_login(alice)
    page = client.get("/admin/trades/shopchannels/").content.decode()
    assert "healthy" in page and "live, 0 s behind" in page
    client.force_login(charlie)  # another tenant's shop is not there
    assert "healthy" not in client.get("/admin/trades/shopchannels/").content.decode()
    assert client.get(f"/admin/trades/jdpshop/{shop.pk}/change/").status_code == 404


def test_safety_polling_counts_what_jdp_missed(gateway, enrolled_shop, settings):
    settings.JDP_LATE_SECONDS = 1
    settings.SYNC_LAG_SECONDS = 1
    shop = enrolled_shop("missed", history_trades=5)
    wait_pushed(gateway)
    consume(shop)
    gateway.faults(jdp_delay_seconds=3600)  # JDP will not deliver the next changes in time
    gateway.control("market", {"nick": "missed", "burst": 3})
    time.sleep(3)
    start = timezone.now() - timedelta(minutes=5)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(cursor=start)
    sync_shop(shop, "trades", client=client_for_shop(shop))
    state = JdpShop.objects.get(shop=shop)
    assert state.missed_by_polling >= 3
    consume(shop)  # nothing new from JDP: no late count either
    assert JdpShop.objects.get(shop=shop).late == 0
