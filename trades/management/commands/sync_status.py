from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from ordersync.shown import shown, zone
from shops.models import Checkpoint, Shop, SyncRun
from trades.sync import locks
from trades.sync.backfill import describe


def lag_text(cursor: datetime | None) -> str:
    if cursor is None:
        return "-"
    seconds = int((timezone.now() - cursor).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s"


class Command(BaseCommand):
    help = "A table of shops: status, cursor lag, last run, failures, mode (and why degraded)."

    def handle(self, *args: Any, **opts: Any) -> None:
        header = f"{'id':>4} {'shop':<20} {'status':<13} {'mode':<9} {'trades lag':>10} "
        header += f"{'refunds lag':>11} {'fails':>5}  {'backfill':<24} last run"
        self.stdout.write(header)
        cursors = {
            (c.shop_id, c.stream): c
            for c in Checkpoint.objects.filter(stream__in=["trades", "refunds", "backfill"])
        }
        for shop in Shop.objects.select_related("tenant").order_by("pk"):
            trades, refunds = cursors.get((shop.pk, "trades")), cursors.get((shop.pk, "refunds"))
            backfill = cursors.get((shop.pk, "backfill"))
            running = backfill is not None and locks.is_locked(backfill.pk)
            last = SyncRun.objects.filter(shop=shop).order_by("-started_at").first()
            failures = (
                max(c.consecutive_failures for c in (trades, refunds) if c)
                if (trades or refunds)
                else 0
            )
            self.stdout.write(
                f"{shop.pk:>4} {shop.seller_nick[:20]:<20} {shop.status:<13} "
                f"{'degraded' if shop.degraded else 'normal':<9} "
                f"{lag_text(trades.cursor if trades else None):>10} "
                f"{lag_text(refunds.cursor if refunds else None):>11} {failures:>5}  "
                f"{describe(backfill, running):<24} "
                + (f"{last.kind} {last.outcome} {shown(last.started_at)}" if last else "-")
            )
            if shop.degraded:
                self.stdout.write(
                    f"{'':>4} degraded since {shown(shop.degraded_since)}: {shop.degraded_reason}"
                )
        self.stdout.write(f"Times are in {zone()} (TIME_ZONE).")
