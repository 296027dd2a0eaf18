"""Items and SKU stock through the sync engine: what is stored matches the sandbox's ground
truth, after the first read and after live sales, restocks and every usual fault."""

from __future__ import annotations

import pytest

from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance, manual
from trades.items.models import Item, ItemSku
from trades.items.streams import sync_items
from trades.tasks import items_sync_task

STREAMS = ("items_onsale", "items_soldout", "items_shelved")

pytestmark = pytest.mark.django_db(transaction=True)

FAULTS = {
    "isp_rate": 0.08,
    "http_500_rate": 0.04,
    "malformed_rate": 0.04,
    "incomplete_rate": 0.05,
    "drift_rate": 0.3,
    "tie_shuffle": True,
    "lag_seconds": 20,
    "lag_tail_rate": 0.2,
    "lag_tail_seconds": 30,
    "lag_max_seconds": 200,
}


def truth(gateway, nick: str) -> dict[int, tuple[str, dict[str, int]]]:
    items = gateway.control(f"oracle/items?nick={nick}")["items"]
    return {i["num_iid"]: (i["approve_status"], i["skus"]) for i in items}


def stored(shop) -> dict[int, tuple[str, dict[str, int]]]:
    out = {i.num_iid: (i.approve_status, {}) for i in Item.objects.filter(shop=shop)}
    for sku in ItemSku.objects.filter(shop=shop).select_related("item"):
        out[sku.item.num_iid][1][sku.sku_id] = sku.quantity
    return out


def differences(gateway, shop) -> list[str]:
    want, have = truth(gateway, shop.seller_nick), stored(shop)
    return [
        f"{k}: {have.get(k)} != {want.get(k)}"
        for k in want.keys() | have.keys()
        if want.get(k) != have.get(k)
    ]


def sync_round(shop) -> list[str]:
    runs = sync_items(shop)
    Checkpoint.objects.filter(shop=shop).update(next_run_at=None)  # the test is the schedule
    return [run.outcome for run in runs]


def past_the_lag(gateway, settings) -> None:
    """Stop the platform clock past the lag of the history's last sale: an item a sale changed
    in the lag's last seconds is, rightly, read by the next round, not the first."""
    manual(gateway)
    advance(gateway, settings.SYNC_LAG_SECONDS + 1, step=60)


def test_the_first_read_stores_every_item_with_its_stock(make_shop, gateway, settings):
    shop = make_shop("stocked", history_trades=300, history_days=10)
    past_the_lag(gateway, settings)
    assert sync_round(shop) == [SyncRun.Outcome.SUCCEEDED] * 3
    assert not differences(gateway, shop)
    assert Item.objects.filter(shop=shop, approve_status="instock").exists()  # the warehouse too
    assert ItemSku.objects.filter(shop=shop).count() == 72


def test_items_and_stock_match_the_oracle_after_sales_restocks_and_faults(
    make_shop, gateway, settings
):
    settings.SYNC_LAG_SECONDS, settings.SYNC_OVERLAP_SECONDS = 30, 40
    settings.SYNC_SWEEP_SECONDS, settings.TOP_BACKOFF_CAP = 600, 0.05
    # a change the heavy tail lists up to 200 s late, past lag + overlap, is the sweep's: one
    # must fall due in the rounds after the faults (the default period, 900 s, may not)
    settings.SYNC_SWEEP_PERIOD_SECONDS = 60
    shop = make_shop("chaos-items", history_trades=300, history_days=10)
    sync_round(shop)
    manual(gateway)
    gateway.control(
        "market", {"nick": shop.seller_nick, "trades_per_minute": 40, "changes_per_minute": 120}
    )
    gateway.faults(**FAULTS)
    sku = next(iter(truth(gateway, shop.seller_nick).values()))[1]
    for step in range(12):
        advance(gateway, 20)
        if step % 4 == 0:
            gateway.control(
                f"sellers/{shop.seller_nick}/restock", {"sku_id": next(iter(sku)), "units": 50}
            )
        sync_round(shop)
    changed = differences(gateway, shop)
    assert changed, "the market changed nothing since the first read: the test proves nothing"
    injected = gateway.control("stats")["errors_injected"]
    assert sum(injected.values()) > 10, injected
    gateway.control("faults", {"reset": True})
    gateway.control(
        "market", {"nick": shop.seller_nick, "trades_per_minute": 0, "changes_per_minute": 0}
    )
    advance(gateway, 300)
    for _ in range(3):
        sync_round(shop)
    assert not differences(gateway, shop)


def test_the_scheduled_pass_reads_every_active_shop(make_shop, gateway, settings):
    shop = make_shop("scheduled", history_trades=50, history_days=3)
    past_the_lag(gateway, settings)
    assert items_sync_task()["scheduled"] == [f"{s}: succeeded" for s in STREAMS]
    assert not differences(gateway, shop)
