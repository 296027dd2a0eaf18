"""The sandbox's JDP pusher on a real MariaDB: enrolment, history, live changes, faults."""

from __future__ import annotations

import time

import pytest

from ordersync.sandbox import jdp as sandbox_jdp
from ordersync.taobao import jdp
from ordersync.taobao.errors import InvalidRequest, TopError
from shops.top import client_for_shop


def rows(url: str, table: str) -> dict[int, dict]:
    connection = sandbox_jdp.connect(url)
    key = "tid" if table == "jdp_tb_trade" else "refund_id"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key}, status, jdp_response, jdp_modified FROM {table}")
        found = {row[0]: row for row in cursor.fetchall()}
    connection.close()
    return found


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


@pytest.fixture
def enrolled(gateway, make_shop, rds_url):
    gateway.control("jdp/rds", {"name": "rds-1", "url": rds_url})
    shop = make_shop("jdp-seller", history_trades=60, history_days=20)
    client = client_for_shop(shop)
    assert jdp.user_add(client, shop.session_key, "rds-1", history_days=30)
    return shop, client


def test_enrolment_pushes_history_as_fullinfo_answers(gateway, enrolled, rds_url):
    shop, client = enrolled
    truth = gateway.oracle_trades(shop.seller_nick)
    pushed = wait_for(
        lambda: len(rows(rds_url, "jdp_tb_trade")) == len(truth) and rows(rds_url, "jdp_tb_trade")
    )
    assert set(pushed) == set(truth)
    tid, row = next(iter(pushed.items()))
    record = jdp.parse_response("trade", row[2])
    assert record["tid"] == tid and record["status"] == truth[tid]["status"]
    assert isinstance(record["orders"], list) and record["orders"]
    refunds = gateway.oracle_refunds(shop.seller_nick)
    assert set(wait_for(lambda: rows(rds_url, "jdp_tb_refund") if refunds else {0: 0})) >= set(
        refunds
    )
    [user] = jdp.users_get(client)
    assert (user.nick, user.rds_name, user.status) == (shop.seller_nick, "rds-1", jdp.NORMAL)


def test_live_change_overwrites_the_row_in_place(gateway, enrolled, rds_url):
    shop, _ = enrolled
    wait_for(lambda: rows(rds_url, "jdp_tb_trade"))
    gateway.control("market", {"nick": shop.seller_nick, "burst": 5})
    truth = gateway.oracle_trades(shop.seller_nick)
    pushed = wait_for(lambda: (r := rows(rds_url, "jdp_tb_trade")) and len(r) == len(truth) and r)
    assert len(pushed) == len(truth)  # one row per tid


def test_session_invalid_stops_the_push(gateway, enrolled, rds_url):
    shop, client = enrolled
    total = len(gateway.oracle_trades(shop.seller_nick))
    wait_for(lambda: len(rows(rds_url, "jdp_tb_trade")) == total)
    gateway.control(f"sellers/{shop.seller_nick}/expire_session", {})
    [user] = jdp.users_get(client)
    assert user.status == jdp.SESSION_INVALID
    before = len(rows(rds_url, "jdp_tb_trade"))
    gateway.control("market", {"nick": shop.seller_nick, "burst": 5})
    time.sleep(2.5)
    assert len(rows(rds_url, "jdp_tb_trade")) == before
    assert gateway.control("jdp")["dropped"] >= 5


def test_management_apis_refuse_bad_input(gateway, enrolled):
    shop, client = enrolled
    with pytest.raises(ValueError):
        jdp.user_add(client, shop.session_key, "rds-1", history_days=91)
    with pytest.raises(TopError):
        jdp.user_add(client, shop.session_key, "no-such-rds")
    assert jdp.user_delete(client, shop.seller_nick)
    [user] = jdp.users_get(client)
    assert user.status == jdp.DELETED
    assert InvalidRequest  # the client's class for isv.* answers


def test_a_malformed_response_is_named():
    for text in ("", "{", "[]", '{"trade_fullinfo_get_response": "x"}', '{"a": {}}'):
        with pytest.raises(jdp.MalformedResponse):
            jdp.parse_response("trade", text)
