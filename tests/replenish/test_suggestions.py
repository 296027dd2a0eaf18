"""Purchase suggestions: the numbers, the API (three actors, filters, CSV) and the console."""

from __future__ import annotations

import csv
import io
import math
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.api.conftest import outsider_client, owner_client, reader_client  # noqa: F401, F811
from trades.items.models import Item, ItemSku
from trades.replenish.models import ReplenishSettings, Suggestion
from trades.replenish.suggest import recompute_suggestions
from trades.sync.write import write_trades

pytestmark = pytest.mark.django_db
URL = "/api/v1/replenishment/"
TODAY = date(2026, 12, 1)


def paid(tid: int, sku: str, num: int, day: date) -> dict:
    at = f"{day.isoformat()} 10:00:00"
    line = {"oid": tid, "status": "WAIT_SELLER_SEND_GOODS", "sku_id": sku, "num": num}
    return {"tid": tid, "status": "WAIT_SELLER_SEND_GOODS", "type": "fixed", "created": at,
            "modified": at, "pay_time": at, "orders": [line]}  # fmt: skip


def deposit(tid: int, sku: str, num: int) -> dict:
    at = "2026-11-30 09:00:00"
    line = {"oid": tid, "status": "WAIT_BUYER_PAY", "sku_id": sku, "num": num}
    return {"tid": tid, "status": "WAIT_BUYER_PAY", "type": "step", "created": at, "modified": at,
            "step_trade_status": "FRONT_PAID_FINAL_NOPAID", "orders": [line]}  # fmt: skip


def shop_with(shop, sku: str, on_hand: int, per_day: int, tid: int = 1) -> None:
    """A SKU with ``on_hand`` units, sold ``per_day`` a day over the 28 days before TODAY."""
    item = Item.objects.create(
        tenant_id=shop.tenant_id, shop=shop, num_iid=tid, title=f"item {sku}",
        approve_status="onsale", num=on_hand, modified="2026-11-30T00:00:00+08:00",
    )  # fmt: skip
    ItemSku.objects.create(
        item=item, shop=shop, sku_id=sku, outer_id=f"OUT-{sku}", quantity=on_hand
    )
    days = [TODAY - timedelta(days=k) for k in range(1, 29)]
    write_trades(shop, [paid(tid * 1000 + k, sku, per_day, d) for k, d in enumerate(days)])


def two_tenants(shop_a, shop_b) -> None:
    """Tenant A: SLOW (stocked for months, written first) and FAST (runs out in 2 days);
    tenant B: SECRET."""
    shop_with(shop_a, "SLOW", on_hand=500, per_day=1, tid=2)
    shop_with(shop_a, "FAST", on_hand=20, per_day=10, tid=1)
    shop_with(shop_b, "SECRET", on_hand=5, per_day=3, tid=3)
    recompute_suggestions(shop_a, TODAY)
    recompute_suggestions(shop_b, TODAY)


def test_every_number_of_a_steady_sku(shop_a):
    shop_with(shop_a, "A", on_hand=50, per_day=10)
    write_trades(shop_a, [deposit(99, "A", 5)])  # reserved by a presale deposit
    assert recompute_suggestions(shop_a, TODAY) == 1
    row = Suggestion.objects.get(shop=shop_a, sku_id="A")
    assert (row.on_hand, row.reserved, row.available) == (50, 5, 45)
    assert row.forecast_7d == Decimal("70.0") and row.cover_days == 14
    assert row.demand == Decimal("140.0") and row.safety_stock == Decimal("0.0")
    assert row.days_of_cover == Decimal("4.5") and row.runs_out_in_days == 4
    assert row.suggested_qty == 95  # 140 + 0 − 45


def test_settings_change_the_cover_and_the_safety_stock(shop_a):
    shop_with(shop_a, "A", on_hand=50, per_day=10)
    write_trades(shop_a, [paid(5000, "A", 30, TODAY - timedelta(days=3))])  # a noisy day
    ReplenishSettings.objects.create(
        shop=shop_a, tenant=shop_a.tenant, lead_time_days=3, review_days=4, service_level="0.99"
    )
    recompute_suggestions(shop_a, TODAY)
    row = Suggestion.objects.get(shop=shop_a)
    assert row.cover_days == 7 and row.safety_stock > 0
    assert row.suggested_qty == math.ceil(row.demand + row.safety_stock - row.available)


def test_api_three_actors_filters_and_csv(
    owner_client,  # noqa: F811
    reader_client,  # noqa: F811
    outsider_client,  # noqa: F811
    shop_a,
    shop_b,
):
    two_tenants(shop_a, shop_b)
    for client in (owner_client, reader_client):
        rows = client.get(URL).json()["results"]
        assert sorted(r["sku_id"] for r in rows) == ["FAST", "SLOW"]
    outsider = outsider_client.get(URL).json()["results"]
    assert [r["sku_id"] for r in outsider] == ["SECRET"]
    assert outsider_client.get(URL, {"shop": shop_a.pk}).json()["results"] == []
    soon = owner_client.get(URL, {"runs_out_within": 7}).json()["results"]
    assert [r["sku_id"] for r in soon] == ["FAST"]
    assert [r["sku_id"] for r in owner_client.get(URL, {"sku": "OUT-SLOW"}).json()["results"]] == [
        "SLOW"
    ]
    assert [
        r["sku_id"] for r in owner_client.get(URL, {"to_order": "false"}).json()["results"]
    ] == ["SLOW"]
    for bad in ({"runs_out_within": -1}, {"shop": "x"}, {"to_order": "maybe"}, {"colour": "red"}):
        assert owner_client.get(URL, bad).status_code == 400
        assert owner_client.get(URL + "csv/", bad).status_code == 400
    answer = owner_client.get(URL + "csv/")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert [r["sku_id"] for r in table] == ["FAST", "SLOW"]  # runs out first on top
    assert outsider_client.get(URL + "csv/").content.decode().count("\n") == 2  # header + SECRET


REPORT = "/admin/trades/suggestion/"


def test_console_report_runs_out_first_and_scoped(client, alice, bob, charlie, shop_a, shop_b):
    two_tenants(shop_a, shop_b)
    for user in (alice, bob):
        client.force_login(user)
        page = client.get(REPORT).content.decode()
        assert page.index("OUT-FAST") < page.index("OUT-SLOW") and "SECRET" not in page
        assert client.get(REPORT, {"o": "13"}).status_code == 200  # sortable by a column
    client.force_login(charlie)
    page = client.get(REPORT).content.decode()
    assert "SECRET" in page and "OUT-FAST" not in page


def test_console_recomputes_on_demand(client, alice, shop_a):
    shop_with(shop_a, "FAST", on_hand=20, per_day=10, tid=1)
    recompute_suggestions(shop_a, TODAY)
    ItemSku.objects.filter(shop=shop_a).update(quantity=1000)
    client.force_login(alice)
    url = "/admin/trades/replenishsettings/"
    answer = client.post(url, {"action": "recompute", "_selected_action": [shop_a.pk]})
    assert answer.status_code == 302
    assert Suggestion.objects.get(shop=shop_a).on_hand == 1000
