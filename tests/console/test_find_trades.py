"""Finding a trade the way support does, with counts that say when they are estimated."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shops.console import paginator
from tests.support.console import T0, bulk_trades, make_trade
from trades.models import Trade

pytestmark = pytest.mark.django_db
TRADES = "/admin/trades/trade/"


def found(client, **params) -> set[int]:
    response = client.get(TRADES, params)
    assert response.status_code == 200, response.status_code
    return {t.tid for t in response.context["cl"].result_list}


@pytest.fixture
def trades(shop_a, shop_b):
    """Three trades of tenant A with buyer and (masked) receiver fields, one of tenant B."""
    people = [
        (3900000000000016884, "tea-lover", "AAHm5xk", "王*", "*******5678", 0),
        (3900000000000016885, "coffee-fan", "AAFz2pq", "李*", "138********", 60 * 24),
        (3900000000000099999, "tea-master", "AAQq8zz", "张*", "*******1234", 60 * 48),
    ]
    for tid, nick, uid, name, mobile, minutes in people:
        trade = make_trade(shop_a, tid, minutes=minutes)
        trade.buyer_nick, trade.buyer_open_uid = nick, uid
        trade.payload = {**trade.payload, "receiver_name": name, "receiver_mobile": mobile}
        trade.save()
    other = make_trade(shop_b, 3900000000000016886)
    Trade.objects.filter(pk=other.pk).update(buyer_nick="tea-lover")


def test_support_finds_a_trade_by_what_they_have(client, alice, trades):
    client.force_login(alice)
    assert found(client, q="390000000000001688") == {3900000000000016884, 3900000000000016885}
    assert found(client, q="3900000000000099999") == {3900000000000099999}
    assert found(client, q="tea") == {3900000000000016884, 3900000000000099999}  # nick part
    assert found(client, q="AAFz2pq") == {3900000000000016885}  # whole open uid
    assert found(client, q="AAFz") == set()  # an open uid is matched whole
    assert found(client, q="王") == {3900000000000016884}  # the visible part of a name
    assert found(client, q="5678") == {3900000000000016884}  # mobile's last digits, if shown
    assert found(client, q="8888") == set()  # masked digits match nothing
    assert found(client, q="tea", status="WAIT_SELLER_SEND_GOODS") == {
        3900000000000016884,
        3900000000000099999,
    }


def test_time_range_in_platform_time(client, alice, trades):
    client.force_login(alice)
    day = {"created__gte": "2026-11-12", "created__lt": "2026-11-13"}
    assert found(client, **day) == {3900000000000016885}
    # 10:00 +08:00 is the first trade's creation; "to" is exclusive
    start = (T0 - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    assert found(client, created__gte=start, created__lt="2026-11-11 10:00") == set()
    assert found(client, created__gte=start, created__lt="2026-11-11 10:01") == {
        3900000000000016884
    }
    html = client.get(TRADES, day).content.decode()
    assert 'name="created__gte" value="2026-11-12"' in html  # the form keeps what was asked
    assert client.get(TRADES, {"created__gte": "yesterday"}).status_code == 302  # "?e=1"


def test_counts_are_true_or_said_to_be_estimates(client, alice, shop_a, monkeypatch):
    bulk_trades(shop_a, 100_000, 250)
    client.force_login(alice)
    html = client.get(TRADES).content.decode()
    assert '<span class="result-count">250</span> trades' in html  # not "101"
    filtered = client.get(TRADES, {"q": "10012"}).content.decode()  # tids 100120-100129
    assert '<span class="result-count">10</span> results' in filtered
    assert "clear the search and filters" in filtered and "Show all" not in filtered
    monkeypatch.setattr(paginator, "EXACT_COUNT_LIMIT", 100)
    html = client.get(TRADES).content.decode()
    assert '<span class="result-count">about ' in html and "an estimate" in html
