"""The trade list stays cheap on a big table: no full COUNT(*), queries independent of size."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.console import bulk_trades, make_trade

pytestmark = pytest.mark.django_db
TRADES = "/admin/trades/trade/"


def capture(client, path: str, params: dict | None = None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params or {})
    assert response.status_code == 200
    return response, [q["sql"] for q in queries.captured_queries]


def counts(sqls: list[str]) -> list[str]:
    return [sql for sql in sqls if re.search(r"COUNT\(", sql, re.I)]


@pytest.mark.parametrize("user", ["alice", "operator"])
def test_changelist_queries_do_not_grow_with_the_table(client, shop_a, shop_b, user, request):
    client.force_login(request.getfixturevalue(user))
    bulk_trades(shop_a, 1, 5)
    _, small = capture(client, TRADES)
    bulk_trades(shop_a, 10_000, 400)
    bulk_trades(shop_b, 20_000, 50)
    response, big = capture(client, TRADES)
    assert len(big) == len(small)
    assert len(response.context["cl"].result_list) == 100
    for sql in counts(big):
        assert "LIMIT" in sql.upper(), f"an unbounded count: {sql}"
    # the next page exists and is reachable without counting everything
    page2, sqls = capture(client, TRADES, {"p": 2})
    assert len(page2.context["cl"].result_list) == 100 and len(sqls) == len(small)


def test_tid_search_and_status_filter(client, alice, shop_a, shop_b):
    make_trade(shop_a, 555001, status="TRADE_FINISHED")
    make_trade(shop_a, 555002, status="WAIT_BUYER_PAY")
    make_trade(shop_b, 555003)
    client.force_login(alice)
    found, sqls = capture(client, TRADES, {"q": "555001"})
    assert [t.tid for t in found.context["cl"].result_list] == [555001]
    assert not any("LIKE" in sql.upper() for sql in sqls)  # exact, indexed
    # the start of an id finds the tenant's trades it begins, by index ranges (no LIKE)
    partial, sqls = capture(client, TRADES, {"q": "55500"})
    assert {t.tid for t in partial.context["cl"].result_list} == {555001, 555002}
    assert not any("LIKE" in sql.upper() for sql in sqls)
    assert not capture(client, TRADES, {"q": "555003"})[0].context["cl"].result_list
    by_status = capture(client, TRADES, {"status": "WAIT_BUYER_PAY"})[0]
    assert [t.tid for t in by_status.context["cl"].result_list] == [555002]
    by_shop = capture(client, TRADES, {"shop": shop_a.pk})[0]
    assert {t.tid for t in by_shop.context["cl"].result_list} == {555001, 555002}
    _, sqls = capture(client, TRADES)
    assert not any("DISTINCT" in sql.upper() for sql in sqls)  # no filter reads the table


def test_trade_page_shows_payload_sub_orders_and_refunds(client, world, alice):
    trade = world["a"]["trade"]
    client.force_login(alice)
    html = unescape(client.get(f"{TRADES}{trade.pk}/change/").content.decode())
    assert "<pre" in html and '"title": "茶"' in html  # payload, indented, unescaped Chinese
    assert "Sub-orders" in html and "tea" in html
    assert str(world["a"]["refund"].refund_id) in html
