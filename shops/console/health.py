"""A shop's health as the console shows it: lag, last success, failures, calls today, problems."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, IntegerField, Max, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from shops.models import Checkpoint, Shop, SyncRun

PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
LAG_WARNING = timedelta(minutes=30)


def start_of_platform_day(now: datetime) -> datetime:
    local = now.astimezone(PLATFORM_TZ)
    return datetime.combine(local.date(), time(0), tzinfo=PLATFORM_TZ)


def with_health(shops: QuerySet[Shop], now: datetime | None = None) -> QuerySet[Shop]:
    """Annotate ``cursor``, ``last_success``, ``failures``, ``last_error``, ``calls_today``,
    ``next_sync`` (when the dispatcher queues the shop's next sync; None when not active).

    Each is a subquery on a shop's few checkpoints, or on its runs since midnight through
    ``syncrun_shop_recent_idx``; a page of shops costs one query.
    """
    now = now or timezone.now()
    trades = Checkpoint.objects.filter(shop=OuterRef("pk"), stream=Checkpoint.Stream.TRADES)
    streams = Checkpoint.objects.filter(shop=OuterRef("pk")).values("shop")
    today = (
        SyncRun.objects.filter(shop=OuterRef("pk"), started_at__gte=start_of_platform_day(now))
        .values("shop")
        .annotate(calls=Sum("api_calls"))
        .values("calls")
    )
    failing = Checkpoint.objects.filter(shop=OuterRef("pk"), consecutive_failures__gt=0)
    return shops.annotate(
        cursor=Subquery(trades.values("cursor")[:1]),
        last_success=Subquery(trades.values("last_success_at")[:1]),
        failures=Coalesce(
            Subquery(streams.annotate(m=Max("consecutive_failures")).values("m")[:1]),
            0,
            output_field=IntegerField(),
        ),
        last_error=Subquery(failing.order_by("-consecutive_failures").values("last_error")[:1]),
        calls_today=Coalesce(Subquery(today[:1]), 0, output_field=IntegerField()),
        next_sync=F("next_sync_at"),
    )


def lag(shop: Shop, now: datetime | None = None) -> timedelta | None:
    """How far the trades cursor trails now; None before the first sync."""
    cursor = getattr(shop, "cursor", None)
    if cursor is None:
        return None
    return max(timedelta(0), (now or timezone.now()) - cursor)


def format_lag(value: timedelta | None) -> str:
    if value is None:
        return "not synced yet"
    seconds = int(value.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def problems(shop: Shop, now: datetime | None = None) -> list[str]:
    """What needs an operator's eye, most serious first."""
    found = []
    if shop.status == Shop.Status.NEEDS_REAUTH:
        found.append("needs re-authorization")
    if shop.status == Shop.Status.DISABLED:
        found.append("disabled")
    if shop.degraded:
        found.append("degraded mode")
    if getattr(shop, "failures", 0):
        found.append(f"failing ({shop.failures} in a row)")
    late = lag(shop, now)
    if shop.status == Shop.Status.ACTIVE and late is not None and late > LAG_WARNING:
        found.append(f"lagging {format_lag(late)}")
    if shop.status == Shop.Status.PAUSED:
        found.append("paused")
    return found


SEVERITY = {"needs re-authorization": 0, "disabled": 1, "degraded mode": 2}


def severity(shop: Shop, now: datetime | None = None) -> int:
    """0 = worst; shops without problems sort last."""
    found = problems(shop, now)
    if not found:
        return 9
    first = found[0]
    return SEVERITY.get(first, 3 if first.startswith("failing") else 4)
