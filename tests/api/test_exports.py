"""Exports stream every row of the tenant's range once, resume by cursor, and hold one chunk
in memory whatever their size."""

from __future__ import annotations

import csv
import gc
import io
import json
import tracemalloc
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.support.records import T0, make_trade
from trades import exports
from trades.models import Refund, Trade, TradeLine

pytestmark = pytest.mark.django_db
BIG_TID = 401_234_567_890_123_456


def bulk_trades(shop, count: int, first_tid: int = 1) -> None:
    """``count`` trades with two lines each, several sharing each modified second."""
    trades = Trade.objects.bulk_create(
        Trade(
            tenant_id=shop.tenant_id,
            shop=shop,
            tid=first_tid + n,
            status="TRADE_FINISHED",
            created=T0,
            modified=T0 + timedelta(seconds=n // 3),
            payment=Decimal("1.50"),
            payload={},
        )  # fmt: skip
        for n in range(count)
    )
    TradeLine.objects.bulk_create(
        TradeLine(trade=t, oid=t.tid * 10 + i, title="x", num=1) for t in trades for i in (0, 1)
    )


def ndjson_lines(response) -> list[dict]:
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def test_every_trade_once_with_its_lines_and_the_end_line(owner_client, shop_a, shop_b):
    bulk_trades(shop_a, 3000)
    bulk_trades(shop_b, 50, first_tid=10**6)  # another tenant's: never exported
    response = owner_client.get("/api/v1/exports/trades", {"format": "ndjson"})
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    *rows, end = ndjson_lines(response)
    tids = [row["tid"] for row in rows]
    assert sorted(tids) == list(range(1, 3001)) and len(set(tids)) == 3000
    assert all(len(row["lines"]) == 2 and row["tid_str"] == str(row["tid"]) for row in rows)
    assert end == {"end": True, "rows": 3000, "cursor": rows[-1]["cursor"]}


def test_a_cut_export_resumes_from_the_last_cursor(owner_client, shop_a):
    bulk_trades(shop_a, 2500)
    *rows, _ = ndjson_lines(owner_client.get("/api/v1/exports/trades"))
    cut = rows[1234]  # the client got this far
    rest = ndjson_lines(owner_client.get("/api/v1/exports/trades", {"cursor": cut["cursor"]}))
    resumed = [row["tid"] for row in rows[:1235]] + [row["tid"] for row in rest[:-1]]
    assert sorted(resumed) == list(range(1, 2501)) and len(resumed) == 2500


def test_csv_has_string_ids_a_range_and_the_end_line(reader_client, shop_a):
    make_trade(shop_a, BIG_TID, minutes=5)
    make_trade(shop_a, 7, minutes=60)  # outside the range
    response = reader_client.get(
        "/api/v1/exports/trades",
        {"format": "csv", "modified_before": (T0 + timedelta(minutes=30)).isoformat()},
    )
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    body, end = text.rstrip("\n").rsplit("\n", 1)
    (row,) = csv.DictReader(io.StringIO(body))
    assert row["tid_str"] == str(BIG_TID) and json.loads(row["lines"])[0]["oid_str"]
    assert end.startswith("#end rows=1 cursor=")


def test_refunds_export_and_tenancy(owner_client, outsider_client, shop_a):
    Refund.objects.create(
        tenant_id=shop_a.tenant_id, shop=shop_a, refund_id=BIG_TID, tid=1, status="SUCCESS",
        created=T0, modified=T0, payload={},
    )  # fmt: skip
    *rows, end = ndjson_lines(owner_client.get("/api/v1/exports/refunds"))
    assert [r["refund_id_str"] for r in rows] == [str(BIG_TID)] and end["rows"] == 1
    *theirs, end = ndjson_lines(outsider_client.get("/api/v1/exports/refunds"))
    assert theirs == [] and end["rows"] == 0
    assert outsider_client.get("/api/v1/exports/refunds", {"shop": shop_a.pk}).status_code == 404
    assert owner_client.get("/api/v1/exports/refunds").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"format": "xml"},
        {"cursor": "nope"},
        {"modified_after": "2026-11-12T00:00:00Z", "modified_before": "2026-11-11T00:00:00Z"},
        {"since": "x"},
    ],
)
def test_bad_queries_are_400(owner_client, query):
    answer = owner_client.get("/api/v1/exports/trades", query)
    assert answer.status_code == 400 and answer["Content-Type"] == "application/json"


def test_no_key_no_export(client):
    assert client.get("/api/v1/exports/trades").status_code == 401


def _export(shop) -> int:
    rows = exports.rows(exports.KINDS["trades"], Trade.objects.filter(shop=shop))
    return sum(1 for _ in exports.ndjson(rows))


def _peak_while_exporting(shop) -> int:
    """The lower peak of two exports, after one that warms caches; garbage collected first."""
    _export(shop)
    peaks = []
    for _ in range(2):
        gc.collect()
        tracemalloc.start()
        _export(shop)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return min(peaks)


def test_memory_does_not_grow_with_rows(shop_a, settings, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 100)
    bulk_trades(shop_a, 200)
    small = _peak_while_exporting(shop_a)
    bulk_trades(shop_a, 1800, first_tid=10**6)
    large = _peak_while_exporting(shop_a)  # ten times the rows, 20 chunks instead of 2
    # measured: 0.44 and 0.88 MB (garbage the collector frees later: the same 0.88 MB at
    # 4,000 rows); one chunk of every row: 0.66 and 5.9 MB
    assert large < small * 3, (small, large)


def test_the_console_exports_what_the_user_may_see(client, alice, bob, charlie, shop_a):
    make_trade(shop_a, 11)
    url = "/admin/trades/trade/export/"
    client.force_login(bob)  # a viewer of tenant A
    assert 'id="export-csv"' in client.get("/admin/trades/trade/").content.decode()
    *rows, end = ndjson_lines(client.get(url, {"format": "ndjson"}))
    assert [r["tid"] for r in rows] == [11] and end["rows"] == 1
    client.force_login(charlie)  # tenant B's owner: none of A's rows
    *rows, end = ndjson_lines(client.get(url, {"shop": shop_a.pk}))
    assert rows == [] and end["rows"] == 0
    assert client.get(url, {"format": "xml"}).status_code == 400
    assert client.get(url, {"cursor": "bad"}).status_code == 400
