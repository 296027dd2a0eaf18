"""Reserved stock: units of open presale trades per shop, SKU and stage, in the API."""

from __future__ import annotations

import pytest

from tests.api.conftest import outsider_client, owner_client, reader_client  # noqa: F401
from tests.support.records import presale
from trades.presale.models import PresaleReservation
from trades.sync.write import write_trades

pytestmark = pytest.mark.django_db
URL = "/api/v1/presale-reservations/"
PAID = "FRONT_PAID_FINAL_NOPAID"


def units(shop, stage="deposit_paid") -> dict[str, int]:
    rows = PresaleReservation.objects.filter(shop=shop, stage=stage)
    return {row.sku_id: row.units for row in rows}


def test_units_follow_the_stages(shop_a):
    write_trades(shop_a, [presale(1, sku="A", num=2), presale(2, sku="A", num=3)])
    assert units(shop_a) == {} and units(shop_a, "deposit_unpaid") == {"A": 5}
    write_trades(shop_a, [presale(1, PAID, sku="A", num=2, minute=1)])
    write_trades(shop_a, [presale(3, PAID, sku="B", num=1, minute=1)])
    assert units(shop_a) == {"A": 2, "B": 1} and units(shop_a, "deposit_unpaid") == {"A": 3}
    final = presale(1, "FRONT_PAID_FINAL_PAID", "WAIT_SELLER_SEND_GOODS", minute=2, sku="A")
    forfeit = presale(3, "FRONT_PAID_FRONT_FORFEITED", "TRADE_CLOSED_BY_TAOBAO", minute=2, sku="B")
    write_trades(shop_a, [final, forfeit])
    assert units(shop_a) == {}
    closed = presale(2, status="TRADE_CLOSED_BY_TAOBAO", minute=3, sku="A", num=3)
    write_trades(shop_a, [closed])  # closed before the deposit
    assert units(shop_a, "deposit_unpaid") == {}


def test_the_index_reads_only_open_presale_trades(shop_a):
    from django.db import connection

    write_trades(shop_a, [presale(1, PAID)])
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT * FROM trades_presalereservation WHERE tenant_id = %s",
            [shop_a.tenant_id],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "trade_open_presale_idx" in plan


def test_api_three_actors(owner_client, reader_client, outsider_client, shop_a, shop_b):  # noqa: F811
    write_trades(shop_a, [presale(1, PAID, sku="A", num=2)])
    write_trades(shop_b, [presale(9, PAID, sku="A", num=7)])
    for client in (owner_client, reader_client):
        body = client.get(URL).json()
        assert [
            (r["shop"], r["sku_id"], r["outer_sku_id"], r["units"]) for r in body["results"]
        ] == [(shop_a.pk, "A", "OUT-A", 2)]
    outsider = outsider_client.get(URL).json()["results"]
    assert [(r["shop"], r["units"]) for r in outsider] == [(shop_b.pk, 7)]
    assert outsider_client.get(URL, {"shop": shop_a.pk}).json()["results"] == []


def test_api_filters_and_paging(owner_client, shop_a):  # noqa: F811
    write_trades(shop_a, [presale(n, PAID, sku=f"S{n}", num=n) for n in range(1, 8)])
    write_trades(shop_a, [presale(20, sku="S1", num=4)])
    rows, cursor = [], None
    while True:
        body = owner_client.get(URL, {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        rows += body["results"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(r["units"] for r in rows) == list(range(1, 8))
    assert len({r["id"] for r in rows}) == 7
    by_outer = owner_client.get(URL, {"sku": "OUT-S3"}).json()["results"]
    assert [r["units"] for r in by_outer] == [3]
    pending = owner_client.get(URL, {"stage": "deposit_unpaid", "sku": "S1"}).json()["results"]
    assert [r["units"] for r in pending] == [4]
    for bad in ({"stage": "final_paid"}, {"shop": "x"}, {"cursor": "nope"}, {"colour": "red"}):
        assert owner_client.get(URL, bad).status_code == 400


RESERVATIONS = "/admin/trades/presalereservation/"


def test_console_lists_the_tenants_reservations_with_totals(client, alice, charlie, shop_a, shop_b):
    write_trades(shop_a, [presale(1, PAID, sku="A", num=2), presale(2, PAID, sku="B", num=5)])
    write_trades(shop_b, [presale(9, PAID, sku="SECRET-B", num=7)])
    client.force_login(alice)
    page = client.get(RESERVATIONS).content.decode()
    assert "OUT-A" in page and "OUT-B" in page and "SECRET-B" not in page
    assert "<strong>7</strong> units" in page and "<strong>2</strong> trades" in page
    filtered = client.get(RESERVATIONS, {"q": "OUT-B"}).content.decode()
    assert "<strong>5</strong> units" in filtered
    client.force_login(charlie)
    page = client.get(RESERVATIONS).content.decode()
    assert "SECRET-B" in page and "OUT-A" not in page


def test_metric_per_shop_and_stage(client, shop_a):
    write_trades(shop_a, [presale(1, PAID, sku="A", num=2), presale(2, sku="A", num=3)])
    body = client.get("/metrics").content.decode()
    lines = [line for line in body.splitlines() if line.startswith("ordersync_presale_reserved")]
    assert len(lines) == 2
    assert any('stage="deposit_paid"' in line and line.endswith(" 2") for line in lines)
    assert any('stage="deposit_unpaid"' in line and line.endswith(" 3") for line in lines)
