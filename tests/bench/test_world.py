"""The bench world's removal: every row it made goes, by set-based SQL, and nothing else."""

from __future__ import annotations

import pytest
from django.db.models.signals import pre_delete

from shops.models import Shop, Tenant, TopApp
from tools.bench.sandbox import SandboxProcess
from tools.bench.world import BenchWorld
from trades.feed.models import ChangeEvent, FeedCommit
from trades.models import Trade, TradeLine
from trades.sales.models import SkuDailySales
from trades.sync.backfill import backfill_shop

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_backfilled_world_is_removed_without_loading_a_row():
    loaded = []

    def count(sender, instance, **kwargs):
        loaded.append(sender.__name__)

    with SandboxProcess(seed=5) as sandbox:
        gone, kept = BenchWorld(sandbox), BenchWorld(sandbox)
        try:
            for world in (gone, kept):
                run = backfill_shop(world.shop("a", history_trades=120, history_days=3), 4)
                assert run.trades_written == 120
            assert TradeLine.objects.filter(trade__tenant=gone.tenant).exists()
            assert SkuDailySales.objects.filter(shop__tenant=gone.tenant).exists()
            pre_delete.connect(count, weak=False)
            try:
                gone.remove()
            finally:
                pre_delete.disconnect(count)
            # Django's delete() sends pre_delete for every row it loads; SQL deletes none
            assert loaded == []
            assert not Tenant.objects.filter(pk=gone.tenant.pk).exists()
            assert not TopApp.objects.filter(pk=gone.app.pk).exists()
            for model in (Shop, Trade, ChangeEvent, FeedCommit):
                assert not model.objects.filter(tenant=gone.tenant.pk).exists(), model
            assert not TradeLine.objects.filter(trade__tenant=gone.tenant.pk).exists()
            assert not SkuDailySales.objects.filter(shop__tenant=gone.tenant.pk).exists()
            # the other world's rows stay
            assert Trade.objects.filter(tenant=kept.tenant).count() == 120
            assert ChangeEvent.objects.filter(tenant=kept.tenant, entity="trade").count() == 120
        finally:
            kept.remove()
    assert not Shop.objects.exists()
