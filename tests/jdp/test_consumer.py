"""The JDP consumer on a real MariaDB: rows become trades through the write path."""

from __future__ import annotations

import pytest

from shops.models import Checkpoint, Shop
from tests.support.oracle import assert_matches_oracle
from trades.feed.models import ChangeEvent
from trades.jdp import enrol
from trades.jdp.models import JdpShop
from trades.models import Trade
from trades.sync.locks import RUN_LOCK
from trades.sync.reconcile import reconcile_shop

from .conftest import consume, wait_pushed


@pytest.fixture(autouse=True)
def fast(settings):
    settings.JDP_BATCH_SIZE = 25


def test_history_fills_a_new_shop_without_a_backfill(gateway, enrolled_shop):
    shop = enrolled_shop("hist", history_trades=60)
    wait_pushed(gateway)
    consume(shop)
    assert_matches_oracle(gateway, shop)
    calls = gateway.control("stats")["calls"]
    assert "taobao.trades.sold.get" not in calls and "taobao.trade.fullinfo.get" not in calls
    state = JdpShop.objects.get(shop=shop)
    assert state.changes_written == Trade.objects.filter(shop=shop).count() + shop.refunds.count()
    events = ChangeEvent.objects.filter(shop=shop).count()
    consume(shop)  # again: the overlap re-reads, nothing changes
    assert ChangeEvent.objects.filter(shop=shop).count() == events


def test_enrolment_puts_polling_at_the_safety_cadence(enrolled_shop, settings):
    shop = enrolled_shop("cadence", history_trades=0)
    shop.refresh_from_db()
    assert shop.interval_mode == Shop.IntervalMode.FIXED
    assert shop.interval_minutes == settings.JDP_SAFETY_POLL_MINUTES


def test_a_malformed_row_is_set_aside_and_repaired_by_the_reconcile(
    gateway, enrolled_shop, rds_url
):
    shop = enrolled_shop("poison", history_trades=30)
    wait_pushed(gateway)
    victim = next(iter(gateway.oracle_trades("poison")))
    _sql(
        rds_url,
        "UPDATE jdp_tb_trade SET jdp_response = '{\"trade_fullinfo_get_response\":' WHERE tid = %s",
        victim,
    )
    consume(shop)
    checkpoint = Checkpoint.objects.get(shop=shop, stream=Checkpoint.Stream.JDP_TRADES)
    assert str(victim) in checkpoint.progress["set_aside"]
    assert "malformed jdp_response" in checkpoint.progress["set_aside"][str(victim)]
    assert checkpoint.cursor is not None  # the batch passed
    assert not Trade.objects.filter(shop=shop, tid=victim).exists()
    assert Trade.objects.filter(shop=shop).count() == len(gateway.oracle_trades("poison")) - 1
    reconcile_shop(shop)
    assert Trade.objects.filter(shop=shop, tid=victim).exists()
    checkpoint.refresh_from_db()
    assert not checkpoint.progress.get("set_aside")


def test_session_invalid_marks_the_shop_needs_reauth(gateway, enrolled_shop, sandbox_app):
    shop = enrolled_shop("reauth", history_trades=0)
    gateway.control("sellers/reauth/expire_session", {})
    statuses = enrol.refresh_statuses(sandbox_app)
    assert statuses[shop.pk] == JdpShop.Status.SESSION_INVALID
    shop.refresh_from_db()
    assert shop.status == Shop.Status.NEEDS_REAUTH and "JDP" in shop.status_reason
    assert JdpShop.objects.get(shop=shop).status == JdpShop.Status.SESSION_INVALID
    assert shop.interval_mode == Shop.IntervalMode.AUTO  # the channel is off


def test_one_consumer_per_shop_and_table(gateway, enrolled_shop, rds_url):
    """A second consumer (another database session) holding the pass's lock: this one
    reads nothing and moves nothing."""
    from trades.jdp import consumer, rds

    shop = enrolled_shop("lock", history_trades=10)
    wait_pushed(gateway)
    checkpoint = Checkpoint.objects.get(shop=shop, stream=Checkpoint.Stream.JDP_TRADES)
    other = _other_connection()
    connection = rds.connect(rds_url)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK, checkpoint.pk])
            assert cursor.fetchone()[0] is True
        result = consumer.consume_table(shop, consumer.TRADES, connection)
        assert not result.locked and result.rows == 0
        checkpoint.refresh_from_db()
        assert checkpoint.cursor is None
    finally:
        with other.cursor() as cursor:  # the other consumer ends its pass
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK, checkpoint.pk])
        other.close()
    result = consumer.consume_table(shop, consumer.TRADES, connection)
    connection.close()
    assert result.locked and result.rows > 0


def _other_connection():
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def _sql(url: str, statement: str, *args) -> None:
    from trades.jdp import rds

    connection = rds.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, args)
    finally:
        connection.close()


def test_the_console_and_the_command_enrol(gateway, make_shop, rds_url, client, alice, sandbox_app):
    from django.core.management import call_command

    from trades.jdp.models import JdpRds

    gateway.control("jdp/rds", {"name": "rds-1", "url": rds_url})
    rds = JdpRds.objects.create(name="rds-1", url=rds_url)
    first, second = make_shop("by-console"), make_shop("by-command")
    client.force_login(alice)
    form = {"shop": first.pk, "rds": rds.pk, "history_days": 91}
    page = client.post("/admin/trades/jdpshop/add/", form)
    assert page.status_code == 200 and "at most 90 days" in page.content.decode()
    assert client.post("/admin/trades/jdpshop/add/", {**form, "history_days": 7}).status_code == 302
    call_command("jdp_enrol", str(second.pk), "rds-1", "--history-days", "3")
    users = {u["user_nick"]: u["status"] for u in gateway.control("jdp")["users"]}
    assert users == {"by-console": 1, "by-command": 1}
    assert JdpShop.objects.get(shop=first).history_days == 7
    call_command("jdp_enrol", str(second.pk), "rds-1", "--delete")
    assert not JdpShop.objects.filter(shop=second).exists()
    assert {u["user_nick"]: u["status"] for u in gateway.control("jdp")["users"]} == {
        "by-console": 1,
        "by-command": 3,
    }


def test_a_tmall_shops_refunds_come_from_jdp_tm_refund(
    gateway, enrolled_shop, sandbox_app, rds_url
):
    """A Tmall seller's refunds are pushed into ``jdp_tm_refund`` only; the consumer writes
    them through the one refund write path, and a second pass adds nothing."""
    tmall_seller(gateway, sandbox_app, "tm-shop", 150)
    shop = enrolled_shop("tm-shop", history_trades=150)
    wait_pushed(gateway)
    refunds = gateway.oracle_refunds("tm-shop")
    assert refunds and _count(rds_url, "jdp_tb_refund") == 0
    assert _count(rds_url, "jdp_tm_refund") == len(refunds)
    consume(shop)
    assert_matches_oracle(gateway, shop)
    checkpoint = Checkpoint.objects.get(shop=shop, stream=Checkpoint.Stream.JDP_TM_REFUNDS)
    assert checkpoint.cursor is not None
    events = ChangeEvent.objects.filter(shop=shop, entity="refund").count()
    assert events >= len(refunds)
    consume(shop)
    assert ChangeEvent.objects.filter(shop=shop, entity="refund").count() == events


def test_an_rds_without_the_tmall_table_is_no_failure(gateway, enrolled_shop, rds_url):
    shop = enrolled_shop("no-tm", history_trades=30)
    wait_pushed(gateway)
    _sql(rds_url, "DROP TABLE jdp_tm_refund")
    consume(shop)
    assert_matches_oracle(gateway, shop)
    checkpoint = Checkpoint.objects.get(shop=shop, stream=Checkpoint.Stream.JDP_TM_REFUNDS)
    assert checkpoint.consecutive_failures == 0 and not checkpoint.last_error


def tmall_seller(gateway, app, nick: str, history_trades: int) -> None:
    """Create ``nick`` as a Tmall seller in the sandbox (before its shop is added)."""
    data = {"app_key": app.app_key, "nick": nick, "tmall": True}
    gateway.control("sellers", {**data, "history_trades": history_trades, "history_days": 10})


def _count(url: str, table: str) -> int:
    from trades.jdp import rds

    connection = rds.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            return cursor.fetchone()[0]
    finally:
        connection.close()
