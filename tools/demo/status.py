"""What the demo prints while it runs: backfill bars, then one live status line."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Max, Sum
from django.utils import timezone

from ordersync.shown import shown
from ordersync.taobao.types import require_time
from shops.models import Checkpoint, Shop, SyncRun
from trades.models import Trade
from trades.tmc.models import TmcShop

BAR = 24


def backfill_share(progress: dict) -> float:
    if progress.get("finished_at"):
        return 1.0
    if not progress.get("until"):
        return 0.0
    begin, until = require_time(progress["from"]), require_time(progress["until"])
    done = require_time(progress["trades_done_until"])
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
    """What the service promises, measured: how fresh the data is and what it cost.

    Times are platform time (Asia/Shanghai), with the offset shown."""
    now = timezone.now()
    trades = Trade.objects.filter(shop__in=shops)
    hour = SyncRun.objects.filter(shop__in=shops, started_at__gte=now - timedelta(hours=1))
    calls = hour.aggregate(n=Sum("api_calls"))["n"] or 0
    failed = hour.filter(outcome="failed").count()
    return (
        f"{shown(now)[11:]}  {trades.count():,} trades | "
        f"newest change {_age(trades.aggregate(m=Max('modified'))['m'], now)} old | "
        f"max cursor lag {_seconds(_cursor_lag(shops, now))} | {tmc_freshness(shops, now)} | "
        f"{calls} API calls, {failed} failed runs in the last hour"
    )


def _cursor_lag(shops: list[Shop], now: datetime) -> float | None:
    cursors = Checkpoint.objects.filter(shop__in=shops, stream="trades", cursor__isnull=False)
    return max(((now - c.cursor).total_seconds() for c in cursors if c.cursor), default=None)


def tmc_freshness(shops: list[Shop], now: datetime) -> str:
    """TMC's last change per shop: the slowest one, from the platform's ``modified`` to our
    commit, and how long ago the last message came."""
    rows = TmcShop.objects.filter(shop__in=shops, last_message_at__isnull=False)
    if not rows:
        return "TMC: no message yet"
    slowest = max(row.freshness_seconds or 0 for row in rows)
    latest = max(row.last_message_at for row in rows if row.last_message_at)
    return f"TMC lag {slowest:.1f}s (last message {_age(latest, now)} ago)"


def _age(when: datetime | None, now: datetime) -> str:
    return _seconds(None if when is None else (now - when).total_seconds())


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{max(0.0, value):.0f}s"


def running_jobs(shops: list[Shop]) -> str:
    """The runs the workers hold, for "stopping qcluster: …"."""
    runs = SyncRun.objects.filter(shop__in=shops, outcome=SyncRun.Outcome.RUNNING)
    held = [f"{run.kind} of {run.shop.seller_nick}" for run in runs.select_related("shop")]
    if not held:
        return "its workers hold no run"
    return "its workers finish " + ", ".join(sorted(set(held))) + " (a backfill pauses)"
