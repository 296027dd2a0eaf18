"""The trades' figures on ``/metrics``: reconcile, the change feed, webhooks, TMC, and the
channels of each shop (JDP's counters with them)."""

from __future__ import annotations

from django.db import connection
from django.db.models import Sum

from ordersync.observability import Exposition
from shops.metrics import shop_labels
from shops.models import Shop
from trades.channels import shop_channels
from trades.feed.models import ChangeEvent
from trades.jdp.models import JdpShop
from trades.models import ReconcileReport
from trades.tmc.models import TmcShop, TmcStat
from trades.webhooks.models import WebhookCounter, WebhookDelivery, WebhookEndpoint


def reconcile_reports(out: Exposition) -> None:
    missing = ReconcileReport.objects.aggregate(n=Sum("missing_found"))["n"] or 0
    out.family("ordersync_reconcile_missing_found_total", "counter", "trades reconcile found")
    out.sample("ordersync_reconcile_missing_found_total", missing)
    refunds = ReconcileReport.objects.aggregate(n=Sum("refunds_missing_found"))["n"] or 0
    out.family(
        "ordersync_reconcile_refunds_missing_found_total", "counter", "refunds reconcile found"
    )
    out.sample("ordersync_reconcile_refunds_missing_found_total", refunds)


def change_feed(out: Exposition) -> None:
    with connection.cursor() as cursor:
        # an estimate: COUNT(*) on the feed would read the whole table at every scrape
        cursor.execute(
            "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
            [ChangeEvent._meta.db_table],
        )
        (rows,) = cursor.fetchone()
    out.family("ordersync_change_feed_rows", "gauge", "rows in the change feed (estimate)")
    out.sample("ordersync_change_feed_rows", rows)


def webhooks(out: Exposition) -> None:
    out.family(
        "ordersync_webhook_deliveries_total", "counter", "webhook delivery attempts by outcome"
    )
    for outcome, count in WebhookCounter.objects.order_by("outcome").values_list(
        "outcome", "count"
    ):
        out.sample("ordersync_webhook_deliveries_total", count, outcome=outcome)
    # what is waiting: the partial index of the sweep serves this count
    pending = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING).count()
    out.family("ordersync_webhook_deliveries_pending", "gauge", "deliveries not yet delivered")
    out.sample("ordersync_webhook_deliveries_pending", pending)
    disabled = WebhookEndpoint.objects.filter(is_active=False).count()
    out.family("ordersync_webhook_endpoints_disabled", "gauge", "endpoints disabled")
    out.sample("ordersync_webhook_endpoints_disabled", disabled)


def tmc(out: Exposition) -> None:
    stats = list(TmcStat.objects.order_by("app_key", "name"))
    families = [
        ("messages", "ordersync_tmc_messages_total", "TMC messages by outcome", "outcome"),
        ("fetches", "ordersync_tmc_fetches_total", "fetches TMC messages caused", "kind"),
    ]
    for prefix, name, help_text, label in families:
        out.family(name, "counter", help_text)
        for s in stats:
            group, _, key = s.name.partition(":")
            if group == prefix:
                out.sample(name, int(s.value), app_key=s.app_key, **{label: key})
    for base, help_text in (
        ("confirm_lag_seconds", "TMC publish time to confirm, per message"),
        ("freshness_seconds", "platform modified to committed here, per change TMC wrote"),
    ):
        name = f"ordersync_tmc_{base}"
        out.family(name, "summary", help_text)
        for s in stats:
            group, _, part = s.name.partition(":")
            if group == base:
                out.sample(f"{name}_{part}", round(s.value, 3), app_key=s.app_key)
    out.family(
        "ordersync_tmc_shop_freshness_seconds",
        "gauge",
        "freshness of the last TMC change, per shop",
    )
    rows = TmcShop.objects.filter(freshness_seconds__isnull=False).select_related("shop__tenant")
    for row in rows:
        freshness = row.freshness_seconds or 0.0
        out.sample("ordersync_tmc_shop_freshness_seconds", freshness, **shop_labels(row.shop))


def channels(out: Exposition) -> None:
    """Per shop: which channels are live and how far each trails; JDP's counters."""
    shops = list(Shop.objects.exclude(status=Shop.Status.DISABLED).select_related("tenant"))
    states = shop_channels(shops)
    out.family("ordersync_channel_live", "gauge", "1 while the channel brings changes in")
    out.family("ordersync_channel_lag_seconds", "gauge", "how far each live channel trails")
    for shop in shops:
        for channel in states[shop.pk]:
            labels = {**shop_labels(shop), "channel": channel.name}
            out.sample("ordersync_channel_live", int(channel.live), **labels)
            if channel.live and channel.lag_seconds is not None:
                out.sample("ordersync_channel_lag_seconds", round(channel.lag_seconds, 1), **labels)
    out.family(
        "ordersync_jdp_changes_total",
        "counter",
        "JDP per shop: changes written; late; missed (found first by polling or the reconcile)",
    )
    kinds = ("changes_written", "late", "missed_by_polling", "missed_by_reconcile")
    for row in JdpShop.objects.select_related("shop__tenant"):
        for kind in kinds:
            labels = {**shop_labels(row.shop), "kind": kind}
            out.sample("ordersync_jdp_changes_total", getattr(row, kind), **labels)
