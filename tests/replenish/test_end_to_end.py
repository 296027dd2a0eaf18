"""A sandbox shop end to end: backfilled trades and synced items give suggestions whose
stock, reservations and sales are the platform's."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from shops.models import SyncRun
from trades.replenish.models import Suggestion
from trades.replenish.suggest import refresh_replenishment
from trades.sales.models import SkuDailySales
from trades.sync.backfill import backfill_shop

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_backfilled_shop_gets_a_suggestion_per_sku(make_shop, gateway):
    shop = make_shop("demo-like", history_trades=1500, history_days=30)
    assert backfill_shop(shop, 31).outcome == SyncRun.Outcome.SUCCEEDED
    assert refresh_replenishment(shop) == 72
    truth = {
        sku: quantity
        for item in gateway.control(f"oracle/items?nick={shop.seller_nick}")["items"]
        for sku, quantity in item["skus"].items()
    }
    rows = {row.sku_id: row for row in Suggestion.objects.filter(shop=shop)}
    assert {sku: row.on_hand for sku, row in rows.items()} == truth
    reserved = gateway.control(f"oracle/presale?nick={shop.seller_nick}")["reserved"]
    assert {s: r.reserved for s, r in rows.items() if r.reserved} == reserved
    totals = SkuDailySales.objects.filter(shop=shop).values("sku_id").annotate(n=Sum("units"))
    best = max(totals, key=lambda row: row["n"])
    assert rows[best["sku_id"]].forecast_7d > best["n"] / 30  # the best seller, growing
    assert any(row.suggested_qty > 0 for row in rows.values())
