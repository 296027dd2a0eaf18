"""Health of the channels: the console page and ``/metrics`` per shop, and what the safety
polling finds that JDP missed."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from shops.models import Checkpoint
from shops.top import client_for_shop
from tests.support.clock import SandboxClock, advance
from trades.jdp import runner
from trades.jdp.models import JdpFinding, JdpShop
from trades.models import Trade
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


@pytest.fixture
def held_push(gateway, settings):
    """Once the history is pushed and consumed (``hold``), the push thread stops: changes
    wait until the test pushes them (``push_once``)."""
    settings.JDP_LATE_SECONDS = 60
    settings.SYNC_LAG_SECONDS = 1
    pusher = gateway.sandbox.jdp_pusher

    def hold(shop):
        wait_pushed(gateway)
        consume(shop)
        pusher.stop()
        pusher.join(5)
        return pusher

    return hold


def polled_first(gateway, shop, nick: str) -> None:
    """Three new trades the safety polling stores before the push delivers them."""
    gateway.control("market", {"nick": nick, "burst": 3})
    advance(gateway, 2)  # past SYNC_LAG_SECONDS
    start = SandboxClock(gateway).now() - timedelta(minutes=5)
    Checkpoint.objects.filter(shop=shop, stream="trades").update(cursor=start)
    sync_shop(shop, "trades", client=client_for_shop(shop))


def outcomes(shop) -> dict[str, int]:
    rows = JdpFinding.objects.filter(shop=shop, channel="polling").values_list("outcome")
    return dict(Counter(outcome for (outcome,) in rows))


def test_what_polling_stored_first_and_jdp_delivered_in_time_is_no_finding(
    gateway, enrolled_shop, held_push
):
    shop = enrolled_shop("in-time", history_trades=5)
    pusher = held_push(shop)
    polled_first(gateway, shop, "in-time")
    consume(shop)
    assert outcomes(shop) == {"pending": 3}
    pusher.push_once()  # stamped 2 s after the trades changed: within JDP_LATE_SECONDS
    consume(shop)
    assert outcomes(shop) == {"in_time": 3}
    assert JdpShop.objects.get(shop=shop).late == 0


def test_safety_polling_counts_what_jdp_missed_then_delivered_late(
    client, gateway, enrolled_shop, held_push, alice
):
    shop = enrolled_shop("missed", history_trades=5)
    pusher = held_push(shop)
    polled_first(gateway, shop, "missed")
    consume(shop)  # platform time 2 s after the change: JDP may still deliver in time
    assert outcomes(shop) == {"pending": 3}
    advance(gateway, 120)  # by platform time, past JDP_LATE_SECONDS (+ the overlap)
    consume(shop)
    assert outcomes(shop) == {"missed": 3}
    body = client.get("/metrics").content.decode()
    labels = f'tenant="tenant-a",shop_id="{shop.pk}",shop="missed",channel="polling"'
    assert f'ordersync_jdp_findings{{{labels},outcome="missed"}} 3' in body
    client.force_login(alice)
    page = client.get("/admin/trades/shopchannels/").content.decode()
    assert "0 late, 3 missed, 0 awaiting JDP" in page
    pusher.push_once()  # the push comes after all, stamped 122 s after the change
    consume(shop)
    assert outcomes(shop) == {"late": 3}
    assert (
        "3 late, 0 missed, 0 awaiting JDP" in client.get("/admin/trades/jdpshop/").content.decode()
    )
    assert JdpShop.objects.get(shop=shop).late == 0  # JDP delivered none of them first


def test_what_jdp_delivers_first_is_late_by_platform_time(gateway, enrolled_shop, held_push):
    shop = enrolled_shop("late", history_trades=5)
    pusher = held_push(shop)
    gateway.control("market", {"nick": "late", "burst": 3})
    advance(gateway, 90)
    pusher.push_once()  # stamped 90 s after the change, whatever the local clock says
    consume(shop)
    assert JdpShop.objects.get(shop=shop).late == 3
    assert not JdpFinding.objects.filter(shop=shop).exists()


def test_a_finding_made_just_after_jdp_delivered_is_settled_from_the_rds(
    gateway, enrolled_shop, held_push
):
    """Polling stored a version as the consumer read it (the consumer's write changed
    nothing, and its lookup of findings came before the finding): the sweep finds the
    version in the RDS and settles it, in time, instead of counting it missed."""
    shop = enrolled_shop("race", history_trades=5)
    pusher = held_push(shop)
    gateway.control("market", {"nick": "race", "burst": 1})
    tid = max(gateway.sandbox.state.sellers["race"].trades)
    advance(gateway, 2)  # the push is due
    pusher.push_once()
    connections = runner.Connections()  # one consumer process: it skips rows it wrote
    try:
        consume(shop, connections)
        trade = Trade.objects.get(shop=shop, tid=tid)
        JdpFinding.objects.create(
            shop=shop, entity="trade", key=trade.tid, modified=trade.modified, channel="polling"
        )
        advance(gateway, 120)
        connections.clients.clear()  # its clock measures the moved platform time again
        consume(shop, connections)
    finally:
        connections.close()
    assert outcomes(shop) == {"in_time": 1}
