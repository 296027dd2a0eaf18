"""The trade list and the change feed written as JSON by PostgreSQL answer exactly what their
documented serializers render, in any time zone, with any fields, only for the key's tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from tests.support.records import T0, make_refund, make_trade
from trades.api import fastrows, filters, keys
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key, find_api_key, revoke_api_key
from trades.api.pagination import keyset_page
from trades.api.serializers import ChangeSerializer, TradeSerializer
from trades.feed.changes import Change, record_changes
from trades.feed.models import ChangeEvent
from trades.models import Trade, TradeLine

pytestmark = pytest.mark.django_db

# UTC ("Z"), half-hour and quarter-hour offsets west and east, daylight saving, and a local
# mean time whose offset has seconds (Shanghai before 1901)
ZONES = ["Asia/Shanghai", "UTC", "America/St_Johns", "Asia/Kathmandu", "Europe/Berlin"]
ODD_TEXT = 'say "hi" \\ back\tslash\n\u2028 \x01 买家 🎉'


def _documented_trades(tenant) -> list[dict]:
    lines = Prefetch("lines", queryset=TradeLine.objects.order_by("oid", "id"))
    trades = Trade.objects.filter(tenant=tenant).order_by("-modified", "-id")
    return TradeSerializer(trades.prefetch_related(lines), many=True).data


@pytest.fixture
def odd_trades(shop_a, shop_b):
    make_trade(
        shop_a,
        77,
        created=datetime(1890, 6, 1, 3, 4, 5, tzinfo=UTC),
        pay_time=T0 + timedelta(seconds=1, microseconds=5),
        consign_time=datetime(2026, 3, 29, 1, 30, 0, 120000, tzinfo=UTC),  # Berlin's DST day
        post_fee=Decimal("0"),
        total_fee=Decimal("12.3"),
        buyer_nick=ODD_TEXT,
        receiver_city="",
    )
    make_trade(shop_a, 78, minutes=5, lines=0, step_paid_fee=Decimal("-1.5"))
    make_trade(shop_a, 2**59, minutes=10, lines=3, end_time=T0 + timedelta(days=180))
    make_trade(shop_b, 79, minutes=20)  # another tenant's: never listed for tenant A


@pytest.mark.parametrize("zone", ZONES)
def test_trade_list_is_the_serializers_output_in_every_zone(
    owner_client, tenant_a, odd_trades, zone
):
    with timezone.override(zone):
        listed = owner_client.get("/api/v1/trades/", {"limit": 200}).json()["results"]
        assert listed == _documented_trades(tenant_a)
    assert 79 not in {trade["tid"] for trade in listed}


def test_chosen_fields_come_in_the_asked_order(owner_client, tenant_a, odd_trades):
    listed = owner_client.get("/api/v1/trades/", {"fields": "lines,tid_str,pay_time"}).json()
    documented = [
        {name: trade[name] for name in ("lines", "tid_str", "pay_time")}
        for trade in _documented_trades(tenant_a)
    ]
    assert listed["results"] == documented
    assert [list(trade) for trade in listed["results"]] == [["lines", "tid_str", "pay_time"]] * 3


def test_pages_through_cursors_and_filters_match(owner_client, tenant_a, odd_trades):
    documented = _documented_trades(tenant_a)
    first = owner_client.get("/api/v1/trades/", {"limit": 2}).json()
    assert first["results"] == documented[:2] and first["has_more"] is True
    # the cursor is the one the ORM keyset pager makes: cursors handed out before still work
    trades = Trade.objects.filter(tenant=tenant_a).values("modified", "id")
    assert first["next_cursor"] == keyset_page(trades, ("-modified", "-id"), None, 2)[1]
    rest = owner_client.get("/api/v1/trades/", {"limit": 2, "cursor": first["next_cursor"]})
    assert rest.json() == {"results": documented[2:], "next_cursor": None, "has_more": False}
    buyer = owner_client.get("/api/v1/trades/", {"buyer_open_uid": "buyer-0"}).json()
    assert buyer["results"] == [trade for trade in documented if trade["tid"] == 78]


def test_a_fast_list_carries_the_headers_of_a_serialized_one(owner_client, shop_a, odd_trades):
    make_refund(shop_a, 5, tid=77)
    fast = owner_client.get("/api/v1/trades/")
    serialized = owner_client.get("/api/v1/refunds/")
    assert fast["Content-Type"] == serialized["Content-Type"] == "application/json"
    assert set(fast.headers) == set(serialized.headers)
    assert fast["RateLimit-Remaining"] == str(int(serialized["RateLimit-Remaining"]) + 1)


@pytest.mark.parametrize("path", ["/api/v1/trades/", "/api/v1/changes/"])
@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "x"},
        {"limit": "100000"},
        {"cursor": "not-a-cursor"},
        {"cursor": "MjoxOjE5OTk5OTk5OTk5OTk5OTk5OTk5OTk"},
        {"fields": "tid,nothing"},
        {"fields": ","},
        {"shop": "-1"},
    ],
)
def test_bad_parameters_are_400(owner_client, path, params):
    response = owner_client.get(path, params)
    assert response.status_code == 400, response.content
    assert response.json()["status"] == 400


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "America/St_Johns"])
def test_change_feed_is_the_serializers_output(owner_client, shop_a, shop_b, zone):
    for shop, entity, previous in ((shop_a, "trade", None), (shop_b, "refund", "WAIT")):
        with transaction.atomic():  # positions are taken as a transaction commits
            record_changes(
                shop,
                [
                    Change(entity, 1, 2**62, ODD_TEXT, previous, T0, ("a.b", "c.d")),
                    Change(entity, 2, 9002, "X", None, T0 + timedelta(microseconds=7)),
                ],
            )
    mine = ChangeEvent.objects.filter(tenant=shop_a.tenant).order_by("id")
    with timezone.override(zone):
        body = owner_client.get("/api/v1/changes/", {"limit": 1}).json()
        assert body["results"] == ChangeSerializer(mine[:1], many=True).data
        rest = owner_client.get("/api/v1/changes/", {"cursor": body["next_cursor"]}).json()
        assert rest["results"] == ChangeSerializer(mine[1:], many=True).data
        chosen = owner_client.get("/api/v1/changes/", {"fields": "signals,key_str"}).json()
        documented = ChangeSerializer(mine, many=True).data
        expected = [{"signals": c["signals"], "key_str": c["key_str"]} for c in documented]
        assert chosen["results"] == expected
        by_shop = owner_client.get("/api/v1/changes/", {"shop": shop_b.pk}).json()
        assert by_shop["results"] == [] and by_shop["has_more"] is False


def test_a_key_revoked_here_stops_at_once(client, tenant_a):
    issued = create_api_key(tenant_a, "ERP")
    assert find_api_key(issued.token) is not None  # now kept by this process
    revoke_api_key(issued.key)
    assert find_api_key(issued.token) is None


def test_a_key_revoked_elsewhere_stops_within_the_bound(client, tenant_a, monkeypatch):
    issued = create_api_key(tenant_a, "ERP")
    now = [1000.0]
    monkeypatch.setattr(keys.time, "monotonic", lambda: now[0])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.token}"}
    assert client.get("/api/v1/trades/", **auth).status_code == 200
    # another process revokes it: this one trusts what it read for KEY_CACHE_SECONDS at most
    ApiKey.objects.filter(pk=issued.key.pk).update(revoked_at=timezone.now())
    now[0] += keys.KEY_CACHE_SECONDS
    assert client.get("/api/v1/trades/", **auth).status_code == 401
    assert find_api_key(issued.token) is None


def test_a_kept_key_still_checks_its_token_and_expiry(tenant_a, monkeypatch):
    issued = create_api_key(tenant_a, "ERP", expires_at=timezone.now() + timedelta(hours=1))
    assert find_api_key(issued.token) is not None
    assert find_api_key(issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")) is None
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(keys.timezone, "now", lambda: later)
    assert find_api_key(issued.token) is None


def test_every_trade_filter_has_an_operator_in_the_written_statement():
    """A filter added with a lookup the hand-written statement lacks fails here, not as a 500."""
    for lookup in filters.LOOKUPS.values():
        assert lookup.partition("__")[2] in fastrows.OPERATORS, lookup
