"""The shops' figures on ``/metrics``: cursor lag, late arrivals, kept records, sync runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from ordersync.observability import Exposition
from shops.models import Checkpoint, Shop, SyncRun


def shop_labels(shop: Shop) -> dict[str, object]:
    """The tenant's slug first (one tenant's dashboards select on it); the shop id makes each
    series unique: seller nicks repeat across apps and tenants. ``shop`` needs its tenant
    selected with it."""
    return {"tenant": shop.tenant.slug, "shop_id": shop.pk, "shop": shop.seller_nick}


def _shop_flags(out: Exposition) -> None:
    """Per shop, 1 or 0: degraded (fewer, larger pulls) and waiting for re-authorization."""
    shops = list(Shop.objects.select_related("tenant").order_by("id"))
    for name, help_text, is_set in (
        ("ordersync_shop_degraded", "1 while the shop is on fewer, larger pulls", _degraded),
        ("ordersync_shop_needs_reauth", "1 while the seller must authorize again", _needs_reauth),
    ):
        out.family(name, "gauge", help_text)
        for shop in shops:
            out.sample(name, is_set(shop), **shop_labels(shop))


def _degraded(shop: Shop) -> bool:
    return shop.degraded


def _needs_reauth(shop: Shop) -> bool:
    return shop.status == Shop.Status.NEEDS_REAUTH


def shops(out: Exposition) -> None:
    now = timezone.now()
    out.family("ordersync_cursor_lag_seconds", "gauge", "platform time not yet synced, per shop")
    checkpoints = Checkpoint.objects.filter(
        shop__status=Shop.Status.ACTIVE, stream__in=["trades", "refunds"], cursor__isnull=False
    ).select_related("shop__tenant")
    for c in checkpoints:
        lag = round((now - (c.cursor or now)).total_seconds(), 1)
        out.sample("ordersync_cursor_lag_seconds", lag, **shop_labels(c.shop), stream=c.stream)
    _late_arrivals(out, checkpoints, now)
    _kept_records(out)
    _shop_flags(out)
    out.family("ordersync_shops", "gauge", "shops by status and mode")
    for row in Shop.objects.values("status", "degraded").annotate(n=Count("id")):
        out.sample("ordersync_shops", row["n"], status=row["status"], degraded=row["degraded"])


def _kept_records(out: Exposition) -> None:
    """Records a shop's streams could not sync: set aside (the next reconcile repairs them)
    and unresolved (the platform did not return them to the reconcile either)."""
    kept = Checkpoint.objects.filter(
        progress__has_any_keys=["set_aside", "refund_set_aside", "unresolved", "refund_unresolved"]
    ).select_related("shop__tenant")
    for state in ("set_aside", "unresolved"):
        name = f"ordersync_{state}_records"
        out.family(name, "gauge", f"records {state.replace('_', ' ')} per shop and stream")
        for c in kept:
            count = c.records_kept(state)
            if count:
                out.sample(name, count, **shop_labels(c.shop), stream=c.stream)


def _late_arrivals(out: Exposition, checkpoints: QuerySet[Checkpoint], now: datetime) -> None:
    """Per shop stream: the lag measured from late arrivals (decayed) and how many there were
    (docs/lag.md)."""
    out.family(
        "ordersync_measured_lag_seconds",
        "gauge",
        "visibility lag measured from late arrivals, decayed; widens lag and overlap",
    )
    for c in checkpoints:
        value = round(c.measured_lag(now), 1)
        out.sample("ordersync_measured_lag_seconds", value, **shop_labels(c.shop), stream=c.stream)
    out.family(
        "ordersync_late_arrivals_total",
        "counter",
        "changes first seen behind a window end already passed",
    )
    for c in checkpoints:
        out.sample(
            "ordersync_late_arrivals_total",
            c.late_arrivals,
            **shop_labels(c.shop),
            stream=c.stream,
        )


def sync_runs(out: Exposition) -> None:
    since = timezone.now() - timedelta(hours=1)
    recent = SyncRun.objects.filter(started_at__gte=since)
    out.family("ordersync_sync_runs_last_hour", "gauge", "sync runs started in the last hour")
    for row in recent.values("kind", "outcome").annotate(n=Count("id")):
        out.sample(
            "ordersync_sync_runs_last_hour", row["n"], kind=row["kind"], outcome=row["outcome"]
        )
    written = recent.aggregate(n=Sum("trades_written"))["n"] or 0
    out.family("ordersync_trades_written_last_hour", "gauge", "rows written by sync runs")
    out.sample("ordersync_trades_written_last_hour", written)
