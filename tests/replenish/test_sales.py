"""Sales per SKU per day, kept by the write path: after a backfill and after live payments,
closes and refunds synced incrementally, they equal the sandbox's paid units per SKU and day."""

from __future__ import annotations

import pytest

from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance, manual
from trades.sales.models import SkuDailySales
from trades.sync.backfill import backfill_shop
from trades.sync.incremental import sync_shop

pytestmark = pytest.mark.django_db(transaction=True)


def truth(gateway, nick: str) -> dict[tuple[str, str], int]:
    sales = gateway.control(f"oracle/sales?nick={nick}")["sales"]
    return {(sku, day): n for sku, days in sales.items() for day, n in days.items() if n}


def stored(shop) -> dict[tuple[str, str], int]:
    rows = SkuDailySales.objects.filter(shop=shop).exclude(units=0)
    return {(r.sku_id, r.day.isoformat()): r.units for r in rows}


def test_sales_per_sku_per_day_follow_the_write_path(make_shop, gateway, settings):
    settings.SYNC_LAG_SECONDS, settings.SYNC_OVERLAP_SECONDS = 5, 10
    shop = make_shop("sales", history_trades=400, history_days=5)
    assert backfill_shop(shop, 6).outcome == SyncRun.Outcome.SUCCEEDED
    before = truth(gateway, shop.seller_nick)
    assert stored(shop) == before and sum(before.values()) > 300
    manual(gateway)
    rates = {"trades_per_minute": 60, "changes_per_minute": 240, "refunds_per_minute": 30}
    gateway.control("market", {"nick": shop.seller_nick, **rates})
    for _ in range(6):
        advance(gateway, 20)
        for stream in ("trades", "refunds"):
            sync_shop(shop, stream)
        Checkpoint.objects.filter(shop=shop).update(next_run_at=None)
    gateway.control("market", {"nick": shop.seller_nick, **dict.fromkeys(rates, 0)})
    advance(gateway, 60)
    sync_shop(shop, "trades")
    after = truth(gateway, shop.seller_nick)
    assert after != before, "the market sold nothing: the test proves nothing"
    assert stored(shop) == after
