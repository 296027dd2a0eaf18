"""What the demo prints while it runs: backfill bars, then one live status line."""

from __future__ import annotations

from django.db.models import Sum
from django.utils import timezone

from ordersync.taobao.types import parse_time
from shops.models import Checkpoint, Shop, SyncRun
from trades.models import Trade

BAR = 24


def backfill_share(progress: dict) -> float:
    if progress.get("finished_at"):
        return 1.0
    if not progress.get("until"):
        return 0.0
    begin, until = parse_time(progress["from"]), parse_time(progress["until"])
    done = parse_time(progress["trades_done_until"])
    return 0.95 * (done - begin) / (until - begin)


def backfill_lines(shops: list[Shop]) -> tuple[list[str], bool]:
    """One bar per shop, and whether every backfill has finished."""
    lines, finished = [], True
    for shop in shops:
        progress = Checkpoint.objects.get(shop=shop, stream="backfill").progress
        share = backfill_share(progress)
        finished = finished and share >= 1.0
        filled = int(share * BAR)
        count = Trade.objects.filter(shop=shop).count()
        lines.append(
            f"  {shop.seller_nick:<16} [{'#' * filled}{'.' * (BAR - filled)}] {share:6.1%} "
            f"{count:>7,} trades"
        )
    return lines, finished


def status_line(shops: list[Shop]) -> str:
    now = timezone.now()
    cursors = Checkpoint.objects.filter(shop__in=shops, stream="trades", cursor__isnull=False)
    lag = max(((now - c.cursor).total_seconds() for c in cursors), default=0)
    trades = Trade.objects.filter(shop__in=shops).count()
    hour = SyncRun.objects.filter(shop__in=shops, started_at__gte=now - timezone.timedelta(hours=1))
    calls = hour.aggregate(n=Sum("api_calls"))["n"] or 0
    failed = hour.filter(outcome="failed").count()
    return (
        f"{now:%H:%M:%S}  {trades:,} trades synced | max cursor lag {lag:.0f}s | "
        f"{calls} API calls and {failed} failed runs in the last hour"
    )
