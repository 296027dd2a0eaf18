"""Filters, validation, keyset paging and query counts of the lists."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.records import T0, make_refund, make_report, make_trade
from trades.api.keys import create_api_key
from trades.webhooks.endpoints import create_endpoint, rotate_secret, send_test_event

pytestmark = pytest.mark.django_db


def walk(client, url: str, **params) -> list[dict]:
    rows, cursor = [], None
    while True:
        body = client.get(url, {**params, **({"cursor": cursor} if cursor else {})}).json()
        rows += body["results"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def test_paging_visits_every_trade_once_in_a_stable_order(owner_client, shop_a):
    # equal modified times: the id breaks the tie, so no row repeats or drops at a page edge
    for n in range(23):
        make_trade(shop_a, 5000 + n, minutes=n // 4, lines=1)
    rows = walk(owner_client, "/api/v1/trades/", limit=5)
    assert len(rows) == 23 and len({r["tid"] for r in rows}) == 23
    assert [r["modified"] for r in rows] == sorted((r["modified"] for r in rows), reverse=True)
    assert rows == owner_client.get("/api/v1/trades/", {"limit": 200}).json()["results"]


def test_a_trade_inserted_while_paging_does_not_shift_the_pages(owner_client, shop_a):
    for n in range(6):
        make_trade(shop_a, 5000 + n, minutes=n)
    first = owner_client.get("/api/v1/trades/", {"limit": 3}).json()
    make_trade(shop_a, 6000, minutes=100)  # newest: lands before the cursor, not after it
    second = owner_client.get("/api/v1/trades/", {"limit": 3, "cursor": first["next_cursor"]})
    assert [r["tid"] for r in second.json()["results"]] == [5002, 5001, 5000]


def test_trade_filters(owner_client, shop_a, tenant_a, top_app):
    from shops.models import Shop

    other_shop = Shop.objects.create(tenant=tenant_a, app=top_app, seller_nick="o", seller_id=9)
    make_trade(shop_a, 1, minutes=0, status="TRADE_FINISHED", type="fixed", buyer_open_uid="u1")
    make_trade(shop_a, 2, minutes=60, status="WAIT_BUYER_PAY", type="step", buyer_open_uid="u2")
    make_trade(other_shop, 3, minutes=120, status="TRADE_FINISHED", buyer_open_uid="u1")

    def tids(**params) -> list[int]:
        response = owner_client.get("/api/v1/trades/", params)
        assert response.status_code == 200, response.json()
        return sorted(r["tid"] for r in response.json()["results"])

    assert tids() == [1, 2, 3]
    assert tids(shop=shop_a.pk) == [1, 2]
    assert tids(status="TRADE_FINISHED") == [1, 3]
    assert tids(type="step") == [2]
    assert tids(buyer_open_uid="u1") == [1, 3]
    assert tids(created_after="2026-11-11T01:00:00+08:00") == [2, 3]
    assert tids(created_before="2026-11-11T01:00:00+08:00") == [1]
    assert tids(modified_after=T0.isoformat(), modified_before="2026-11-11T02:00:00+08:00") == [
        1,
        2,
    ]


def test_refund_sync_run_and_report_filters(owner_client, shop_a):
    from shops.models import SyncRun

    make_report(shop_a, "2026-11-01")
    make_report(shop_a, "2026-11-02")
    reports = owner_client.get("/api/v1/reconcile-reports/", {"day_after": "2026-11-02"})
    assert [r["day"] for r in reports.json()["results"]] == ["2026-11-02"]

    make_refund(shop_a, 1, tid=10)
    make_refund(shop_a, 2, tid=20, minutes=30)
    SyncRun.objects.create(shop=shop_a, stream="trades", kind="backfill", outcome="failed")
    SyncRun.objects.create(shop=shop_a, stream="trades", kind="incremental")
    refunds = owner_client.get("/api/v1/refunds/", {"tid": 20}).json()["results"]
    assert [r["refund_id"] for r in refunds] == [2]
    runs = owner_client.get("/api/v1/sync-runs/", {"outcome": "failed"}).json()["results"]
    assert [r["kind"] for r in runs] == ["backfill"]


@pytest.mark.parametrize(
    "url,params,field",
    [
        ("/api/v1/trades/", {"created_after": "yesterday"}, "created_after"),
        ("/api/v1/trades/", {"modified_before": "2026-13-01"}, "modified_before"),
        ("/api/v1/trades/", {"shop": "abc"}, "shop"),
        ("/api/v1/trades/", {"shop": str(2**64)}, "shop"),
        ("/api/v1/trades/", {"limit": "0"}, "limit"),
        ("/api/v1/trades/", {"limit": "201"}, "limit"),
        ("/api/v1/trades/", {"cursor": "garbage"}, "cursor"),
        ("/api/v1/trades/", {"statuss": "x"}, "statuss"),
        (
            "/api/v1/trades/",
            {"created_after": "2026-11-12T00:00:00Z", "created_before": "2026-11-11T00:00:00Z"},
            "created_after",
        ),
        ("/api/v1/refunds/", {"modified_after": "x"}, "modified_after"),
        ("/api/v1/sync-runs/", {"outcome": "exploded"}, "outcome"),
        ("/api/v1/reconcile-reports/", {"day_after": "2026-02-30"}, "day_after"),
        ("/api/v1/shops/", {"status": "sleeping"}, "status"),
        ("/api/v1/changes/", {"after": "garbage"}, "after"),
        ("/api/v1/changes/", {"limit": "1001"}, "limit"),
        ("/api/v1/trades/1/", {"x": "1"}, "x"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_field(owner_client, url, params, field):
    response = owner_client.get(url, params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400 and body["code"] == "invalid"
    assert list(body["errors"]) == [field]


@pytest.mark.parametrize("tid", ["abc", "0", str(2**64), "-1"])
def test_ids_that_cannot_exist_are_404(owner_client, tid):
    response = owner_client.get(f"/api/v1/trades/{tid}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def _throttle_query(sql: str) -> bool:
    return "ordersync_ratecounter" in sql


def the_endpoint(shop):
    from trades.webhooks.models import WebhookEndpoint

    found = WebhookEndpoint.objects.filter(tenant=shop.tenant).first()
    return (
        found
        or create_endpoint(shop.tenant, "https://erp.example/hook", ["trade.created"]).endpoint
    )


def rotated_endpoint(shop, n: int) -> None:
    """An endpoint with two signing secrets, so each one has expiries to show."""
    endpoint = create_endpoint(shop.tenant, f"https://erp{n}.example/hook", ["trade.created"])
    rotate_secret(endpoint.endpoint)


@pytest.mark.parametrize(
    "endpoint,make",
    [
        ("trades", lambda shop, n: make_trade(shop, 9000 + n, minutes=n, lines=3)),
        ("refunds", lambda shop, n: make_refund(shop, 9000 + n, tid=n, minutes=n)),
        ("shops", None),
        ("sync-runs", None),
        ("reconcile-reports", lambda shop, n: make_report(shop, f"2026-10-{n % 28 + 1:02d}")),
        ("api-keys", lambda shop, n: create_api_key(shop.tenant, f"key {n}")),
        ("webhook-endpoints", lambda shop, n: rotated_endpoint(shop, n)),
        ("webhook-deliveries", lambda shop, n: send_test_event(the_endpoint(shop))),
    ],
)
def test_queries_per_request_do_not_grow_with_page_size(
    owner_client, shop_a, endpoint, make, settings
):
    from shops.models import Checkpoint, Shop, SyncRun

    # 60 rows of each, past the per-tenant caps
    settings.TENANT_MAX_API_KEYS = settings.TENANT_MAX_WEBHOOK_ENDPOINTS = 100
    settings.TENANT_TEST_EVENTS_PER_HOUR = 100

    for n in range(60):
        if make:
            make(shop_a, n)
        elif endpoint == "shops":
            shop = Shop.objects.create(
                tenant=shop_a.tenant, app=shop_a.app, seller_nick=f"s{n}", seller_id=50_000 + n
            )
            Checkpoint.objects.create(shop=shop, stream="trades")
            SyncRun.objects.create(shop=shop, stream="trades", kind="incremental")
        else:
            SyncRun.objects.create(shop=shop_a, stream="trades", kind="incremental")
    owner_client.get(f"/api/v1/{endpoint}/")  # last_used_at is written on the first request

    counts = {}
    for limit in (2, 50):
        with CaptureQueriesContext(connection) as queries:
            response = owner_client.get(f"/api/v1/{endpoint}/", {"limit": limit})
        assert response.status_code == 200 and len(response.json()["results"]) == limit
        # the throttle's one counter statement is the same on every request and not the list's
        counts[limit] = len([q for q in queries if not _throttle_query(q["sql"])])
    assert counts[2] == counts[50] <= 4, counts


@pytest.mark.django_db(transaction=True)
def test_change_feed_queries_do_not_grow_with_page_size(owner_client, shop_a):
    from django.db import transaction

    from trades.feed.changes import Change, record_changes

    for n in range(60):
        with transaction.atomic():
            record_changes(shop_a, [Change("trade", n, 9000 + n, "WAIT_BUYER_PAY", None, T0)])
    owner_client.get("/api/v1/changes/")  # last_used_at is written on the first request

    counts = {}
    for limit in (2, 50):
        with CaptureQueriesContext(connection) as queries:
            response = owner_client.get("/api/v1/changes/", {"limit": limit})
        assert response.status_code == 200 and len(response.json()["results"]) == limit
        counts[limit] = len([q for q in queries if not _throttle_query(q["sql"])])
    assert counts[2] == counts[50] <= 4, counts


def test_fast_trade_rows_match_the_documented_serializer(owner_client, shop_a):
    from datetime import timedelta
    from decimal import Decimal

    from django.db.models import Prefetch

    from trades.api.serializers import TradeSerializer
    from trades.models import Trade, TradeLine

    make_trade(
        shop_a,
        77,
        pay_time=T0 + timedelta(seconds=1, microseconds=5),
        post_fee=Decimal("0"),
        total_fee=Decimal("12.3"),
        buyer_nick="买家",
    )
    make_trade(shop_a, 78, lines=0)
    listed = owner_client.get("/api/v1/trades/").json()["results"]
    lines = Prefetch("lines", queryset=TradeLine.objects.order_by("oid"))
    trades = Trade.objects.order_by("-modified", "-id").prefetch_related(lines)
    documented = TradeSerializer(trades, many=True).data
    assert listed == documented


@pytest.mark.django_db(transaction=True)
def test_fast_change_rows_match_the_documented_serializer(owner_client, shop_a):
    from django.db import transaction

    from trades.api.serializers import ChangeSerializer
    from trades.feed.changes import Change, record_changes
    from trades.feed.models import ChangeEvent

    with transaction.atomic():  # positions are taken as a transaction commits
        record_changes(
            shop_a,
            [
                Change("trade", 1, 9001, "WAIT_BUYER_PAY", None, T0),
                Change(
                    "trade", 2, 9002, "WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_PAY", T0,
                    ["trade.presale_deposit_paid"],
                ),
            ],
        )  # fmt: skip
    listed = owner_client.get("/api/v1/changes/").json()["results"]
    documented = ChangeSerializer(ChangeEvent.objects.order_by("id"), many=True).data
    assert len(listed) == 2 and listed == documented
    assert [c["signals"] for c in listed] == [[], ["trade.presale_deposit_paid"]]


def test_unknown_paths_answer_in_the_error_shape(owner_client):
    response = owner_client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}
    assert owner_client.get("/api/v1/nothing-here").status_code == 404
