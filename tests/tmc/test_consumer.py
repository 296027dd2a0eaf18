"""The TMC consumer, one pull at a time, against the sandbox on real PostgreSQL."""

from __future__ import annotations

import math
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from ordersync.sandbox import lifecycle
from ordersync.taobao import api
from ordersync.taobao.store import client_for
from shops.models import Shop
from shops.top import app_credentials, client_for_shop
from tests.support.clock import SandboxClock, advance, manual
from tests.support.tmc import drain, platform, running
from tests.support.waiting import wait_until
from trades.feed.models import ChangeEvent
from trades.models import Refund, Trade
from trades.tmc.consumer import Consumer
from trades.tmc.models import TmcShop
from trades.tmc.permits import permit_shops
from trades.tmc.stats import counters

pytestmark = pytest.mark.django_db(transaction=True)


def tmc_stats(gateway) -> dict:
    return gateway.control("tmc")


def pending(gateway) -> int:
    return sum(q["pending"] for q in tmc_stats(gateway)["queues"].values())


def test_client_permit_consume_confirm(make_shop, gateway):
    shop = make_shop("client")
    client = client_for_shop(shop)
    assert api.tmc_user_permit(client, shop.session_key) is True
    gateway.control("market", {"nick": "client", "burst": 3})
    messages = api.tmc_messages_consume(client, quantity=10)
    assert [m.topic for m in messages] == ["taobao_trade_TradeCreate"] * 3
    first = messages[0]
    assert first.user_id == shop.seller_id and first.retried == 0 and first.pub_time.tzinfo
    assert isinstance(first.content["tid"], int) and first.content["seller_nick"] == "client"
    assert api.tmc_messages_confirm(client, [m.id for m in messages]) is True
    assert api.tmc_messages_consume(client, quantity=10) == []


def test_start_permits_every_active_shop_once(make_shop, consumer, gateway):
    first = make_shop("p1")
    paused = make_shop("p2")
    Shop.objects.filter(pk=paused.pk).update(status=Shop.Status.PAUSED)
    assert permit_shops(consumer.app, consumer.client) == 1
    assert permit_shops(consumer.app, consumer.client) == 0  # already permitted
    assert TmcShop.objects.get(shop=first).permitted_at is not None
    make_shop("p3")  # added later: the next refresh permits it
    assert permit_shops(consumer.app, consumer.client) == 1
    assert sorted(tmc_stats(gateway)["permits"]) == ["app-1/p1", "app-1/p3"]


def test_a_pull_writes_collapses_and_confirms(make_shop, consumer, gateway):
    shop = make_shop("pull")
    permit_shops(consumer.app, consumer.client)
    gateway.faults(tmc_duplicate_rate=1.0)
    gateway.control("market", {"nick": "pull", "burst": 4})
    advance(gateway, 1.05)  # duplicates arrive up to a second later
    result = drain(consumer)
    assert result.received == 8
    assert result.fetches["trade"] == 4  # one fetch per trade, however many messages
    assert result.outcomes == {"written": 4, "collapsed": 4}
    assert pending(gateway) == 0  # all confirmed, the collapsed ones too
    oracle = gateway.oracle_trades("pull")
    ours = {t.tid: (t.status, platform(t.modified)) for t in Trade.objects.filter(shop=shop)}
    assert ours == {tid: (t["status"], t["modified"]) for tid, t in oracle.items()}
    stats = counters("app-1")
    assert stats["messages:received"] == 8 and stats["messages:collapsed"] == 4
    assert stats["fetches:trade"] == 4 and stats["freshness_seconds:count"] == 4
    assert TmcShop.objects.get(shop=shop).freshness_seconds is not None


def test_a_record_fetched_within_its_second_replaces_no_row_of_that_second(
    make_shop, gateway, sandbox_app, settings
):
    """A trade changes twice within one platform second. The first version is written as
    soon as it is fetched; the second, fetched while that second lasts, replaces no row of
    its second (a third version could still follow), waits for the second to end unconfirmed,
    is fetched again and only then replaces it."""
    settings.TMC_SETTLE_MARGIN_SECONDS = 0.0
    shop = make_shop("one-second", history_trades=0)
    world = gateway.sandbox.state
    manual(gateway)
    gateway.control("clock", {"set": math.floor(world.now()) + 1.1})
    credentials = app_credentials(sandbox_app)
    client = client_for(credentials, clock=SandboxClock(gateway), sleep=lambda _: None)
    consumer = Consumer(sandbox_app, client=client, collapse_seconds=0)
    permit_shops(consumer.app, consumer.client)
    gateway.control("market", {"nick": "one-second", "burst": 1})
    consumer.pull_once()  # within the second: written at once, nothing older is stored
    first = Trade.objects.get(shop=shop)
    assert pending(gateway) == 0
    seller = world.sellers["one-second"]
    record = seller.by_created[-1]
    with world.lock:
        lifecycle.advance(seller, record, world.now(), 0)  # the second version, same second
    second = record.current
    assert second.modified == record.versions[-2].modified and second.status != first.status
    result = consumer.pull_once()
    assert result.fetches["trade"] == 1 and list(result.later) and not result.confirmed
    assert Trade.objects.get(shop=shop).status == first.status  # not replaced within the second
    assert pending(gateway) == 1 and consumer.held  # held, unconfirmed
    advance(gateway, 1)  # the second is over
    drain(consumer)
    assert Trade.objects.get(shop=shop).status == second.status
    events = ChangeEvent.objects.filter(shop=shop).order_by("id")
    assert list(events.values_list("status", flat=True)) == [first.status, second.status]
    assert pending(gateway) == 0


def metric(text: str, line_start: str) -> float:
    """The value of the one /metrics sample whose line starts with ``line_start``."""
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(line_start)]
    assert len(values) == 1, (line_start, values)
    return values[0]


def test_confirm_lag_and_shop_freshness_are_in_metrics(make_shop, consumer, gateway):
    shop = make_shop("metered")
    permit_shops(consumer.app, consumer.client)
    gateway.control("market", {"nick": "metered", "burst": 3})
    result = drain(consumer)
    assert result.outcomes == {"written": 3}
    text = Client().get("/metrics").content.decode()
    lag = 'ordersync_tmc_confirm_lag_seconds_{}{{app_key="app-1"}}'
    count, total = metric(text, lag.format("count")), metric(text, lag.format("sum"))
    assert count == 3  # one sample per confirmed message
    assert 0 <= total / count < 30  # publish → confirm, seconds (pub_time has 1 s resolution)
    row = TmcShop.objects.get(shop=shop)
    fresh = metric(
        text,
        "ordersync_tmc_shop_freshness_seconds"
        f'{{tenant="{shop.tenant.slug}",shop_id="{shop.pk}",shop="metered"}}',
    )
    assert fresh == row.freshness_seconds and 0 <= fresh < 30
    assert row.last_change_modified == max(t.modified for t in Trade.objects.filter(shop=shop))


def test_unknown_seller_is_confirmed_and_counted(make_shop, consumer, gateway, sandbox_app):
    make_shop("known")
    stranger = gateway.control("sellers", {"app_key": "app-1", "nick": "stranger"})
    client = client_for_shop(Shop(app=sandbox_app))
    api.tmc_user_permit(client, stranger["session"])  # permitted once, no shop here
    gateway.control("market", {"nick": "stranger", "burst": 3})
    result = drain(consumer)
    assert result.outcomes == {"unknown_seller": 3} and not result.fetches
    assert pending(gateway) == 0
    assert counters("app-1")["messages:unknown_seller"] == 3
    text = Client().get("/metrics").content.decode()
    assert 'ordersync_tmc_messages_total{app_key="app-1",outcome="unknown_seller"} 3' in text


def test_auth_cancel_marks_the_shop_needs_reauth(make_shop, consumer, gateway):
    shop = make_shop("revoker")
    permit_shops(consumer.app, consumer.client)
    gateway.control("sellers/revoker/revoke", {})
    result = drain(consumer)
    assert result.outcomes == {"auth_cancel": 1}
    shop.refresh_from_db()
    assert shop.status == Shop.Status.NEEDS_REAUTH and "AuthCancel" in shop.status_reason
    assert TmcShop.objects.get(shop=shop).permitted_at is None  # permit again after re-auth
    assert pending(gateway) == 0


def test_a_failed_fetch_is_not_confirmed_and_comes_back(make_shop, consumer, gateway, settings):
    settings.TOP_MAX_ATTEMPTS = 1
    shop = make_shop("flaky")
    permit_shops(consumer.app, consumer.client)
    gateway.faults(isp_rate=1.0, methods=["taobao.trade.fullinfo.get"], tmc_visibility_seconds=4)
    gateway.control("market", {"nick": "flaky", "burst": 2})
    result = drain(consumer)
    assert result.outcomes == {"failed": 2} and result.confirmed == []
    assert pending(gateway) == 2 and not Trade.objects.filter(shop=shop).exists()
    gateway.faults(isp_rate=0.0)
    assert tmc_stats(gateway)["queues"]["app-1/default"]["ready"] == 0  # in flight
    advance(gateway, 4)  # the visibility timeout
    assert tmc_stats(gateway)["queues"]["app-1/default"]["ready"] == 2
    again = drain(consumer)
    assert again.received == 2 and again.outcomes == {"written": 2}
    assert Trade.objects.filter(shop=shop).count() == 2 and pending(gateway) == 0
    assert tmc_stats(gateway)["redelivered"] == 2


def test_refund_messages_write_the_refund_and_its_trade(make_shop, consumer, gateway):
    shop = make_shop("refunds", history_trades=0)
    gateway.control("market", {"nick": "refunds", "burst": 30})
    permit_shops(consumer.app, consumer.client)
    gateway.control("market", {"nick": "refunds", "changes_per_minute": 6000})
    advance(gateway, 0.5, step=0.05)
    gateway.control("market", {"nick": "refunds", "changes_per_minute": 0})
    gateway.control("market", {"nick": "refunds", "refunds_per_minute": 6000})
    advance(gateway, 0.3, step=0.05)
    gateway.control("market", {"nick": "refunds", "refunds_per_minute": 0})
    drain(consumer)
    refunds = gateway.oracle_refunds("refunds")
    assert refunds, "the market opened no refund"
    ours = {r.refund_id: (r.status, platform(r.modified)) for r in Refund.objects.filter(shop=shop)}
    assert ours == {rid: (r["status"], r["modified"]) for rid, r in refunds.items()}
    trades = {t.tid: platform(t.modified) for t in Trade.objects.filter(shop=shop)}
    for refund in refunds.values():
        assert trades[refund["tid"]] == gateway.oracle_trades("refunds")[refund["tid"]]["modified"]


def test_the_console_shows_tmc_state_to_operators(make_shop, consumer, admin_client, gateway):
    shop = make_shop("console")
    permit_shops(consumer.app, consumer.client)
    gateway.control("market", {"nick": "console", "burst": 1})
    drain(consumer)
    page = admin_client.get("/admin/trades/tmcshop/")
    assert page.status_code == 200 and "console" in page.content.decode()
    stats = admin_client.get("/admin/trades/tmcstat/").content.decode()
    assert "messages:written" in stats
    assert admin_client.get(f"/admin/trades/tmcshop/{shop.pk}/change/").status_code == 200


def test_a_consumer_of_a_named_group_receives_and_writes(make_shop, gateway, sandbox_app, settings):
    settings.TMC_GROUP = "g1"
    early = make_shop("early")
    permit_shops(sandbox_app, client_for_shop(early))  # an earlier run, in "default"
    late = make_shop("late")
    consumer = Consumer(sandbox_app)
    assert consumer.group == "g1"
    with running(consumer):
        wait_until(lambda: len(tmc_stats(gateway)["permits"]) == 2, 10, "the permits")
        for nick in ("early", "late"):
            gateway.control("market", {"nick": nick, "burst": 3})

        def both_written() -> bool:
            return all(Trade.objects.filter(shop=s).count() == 3 for s in (early, late))

        wait_until(both_written, 15, "the consumer of g1 to write both shops' trades")
    queues = tmc_stats(gateway)["queues"]
    assert queues["app-1/g1"]["pending"] == 0  # consumed and confirmed in g1
    assert "app-1/default" not in queues  # nothing went to the group nobody reads
    for nick in ("early", "late"):
        user = consumer.client.call("taobao.tmc.user.get", {"nick": nick})["tmc_user"]
        assert user["group_name"] == "g1"


def test_a_group_the_platform_would_refuse_fails_at_start(sandbox_app):
    for name in ("default-2", "g" * 33):
        with pytest.raises(ValueError, match="TMC group"):
            Consumer(sandbox_app, group=name)
    assert Consumer(sandbox_app, group="default").group == "default"
    with pytest.raises(CommandError, match="not starting 'default'"):
        call_command("tmc_consume", "--group", "default-2")


@contextmanager
def failing_trade_writes():
    """A real write failure: PostgreSQL refuses every insert into the trade table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_trade() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'trade writes refused by the test'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_trade BEFORE INSERT ON trades_trade "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_trade()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS test_refuse_trade ON trades_trade")
            cursor.execute("DROP FUNCTION IF EXISTS test_refuse_trade()")


def test_a_failed_write_is_not_confirmed_and_comes_back(make_shop, consumer, gateway):
    shop = make_shop("unwritable")
    permit_shops(consumer.app, consumer.client)
    gateway.faults(tmc_visibility_seconds=3)
    gateway.control("market", {"nick": "unwritable", "burst": 2})
    with failing_trade_writes():
        result = drain(consumer)
    assert result.fetches["trade"] == 2  # fetched fine, the write failed
    assert result.outcomes == {"failed": 2} and result.confirmed == []
    assert pending(gateway) == 2 and not Trade.objects.filter(shop=shop).exists()
    assert tmc_stats(gateway).get("confirmed", 0) == 0
    wait_until(
        lambda: tmc_stats(gateway)["queues"]["app-1/default"]["ready"] == 2, 10, "redelivery"
    )
    again = drain(consumer)
    assert again.received == 2 and again.outcomes == {"written": 2}
    assert Trade.objects.filter(shop=shop).count() == 2 and pending(gateway) == 0
