"""django-q2 task entry points: thin, by primary key, calling the engine's verbs."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from shops.models import Checkpoint, Shop
from trades.sync.backfill import backfill_shop
from trades.sync.incremental import sync_shop
from trades.sync.reconcile import reconcile_shop


def _active(shop_id: int) -> Shop | None:
    shop = Shop.objects.select_related("app", "tenant").get(pk=shop_id)
    return shop if shop.status == Shop.Status.ACTIVE else None


def _backing_off(shop: Shop, stream: str) -> bool:
    return Checkpoint.objects.filter(
        shop=shop, stream=stream, next_run_at__gt=timezone.now()
    ).exists()


def sync_shop_task(shop_id: int, stream: str | None = None) -> list[str]:
    """Scheduled sync of a shop's trades and refunds; streams that are backing off wait."""
    shop = _active(shop_id)
    if shop is None:
        return []
    outcomes = []
    for name in [stream] if stream else ["trades", "refunds"]:
        if not _backing_off(shop, name):
            outcomes.append(f"{name}: {sync_shop(shop, name).outcome}")
    return outcomes


def backfill_shop_task(shop_id: int, days: int | None = None) -> str:
    shop = _active(shop_id)
    return backfill_shop(shop, days).outcome if shop else "shop not active"


def reconcile_shop_task(shop_id: int, day: str | None = None) -> list[int]:
    shop = _active(shop_id)
    if shop is None:
        return []
    reports = reconcile_shop(shop, date.fromisoformat(day) if day else None)
    return [report.missing_found for report in reports]
