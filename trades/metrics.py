"""The trades' figures on ``/metrics``: reconcile, the change feed, webhooks, TMC, and the
channels of each shop (JDP's counters with them)."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, Sum

from ordersync.observability import Exposition
from shops.metrics import shop_labels
from shops.models import Shop
from trades.api.feed_position import feed_position
from trades.api.key_models import ApiKey
from trades.channels import shop_channels
from trades.feed.models import ChangeEvent
from trades.jdp import findings
from trades.jdp.models import JdpFinding, JdpShop
from trades.logistics.models import Parcel
from trades.models import ReconcileReport
from trades.presale.models import PresaleReservation
from trades.tmc.models import TmcShop, TmcStat
from trades.webhooks import health
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


def presale_reservations(out: Exposition) -> None:
    """Per shop, the units open presale trades hold: reserved (deposit paid) and pending."""
    name = "ordersync_presale_reserved_units"
    out.family(name, "gauge", "units held by presale trades, per shop and stage")
    rows = (
        PresaleReservation.objects.values("shop", "stage")
        .annotate(units=Sum("units"))
        .order_by("shop", "stage")
    )
    shops = {
        s.pk: s
        for s in Shop.objects.select_related("tenant").filter(pk__in={r["shop"] for r in rows})
    }
    for row in rows:
        out.sample(name, row["units"], stage=row["stage"], **shop_labels(shops[row["shop"]]))


def parcels(out: Exposition) -> None:
    """Per shop: the parcels stalled now (by stall), and the parcels still tracked."""
    stalled, tracked = "ordersync_logistics_stalled_parcels", "ordersync_logistics_tracked_parcels"
    out.family(stalled, "gauge", "parcels with a raised stall alert, per shop and stall")
    out.family(tracked, "gauge", "parcels whose trace is still read, per shop")
    rows = list(
        Parcel.objects.filter(stalled_at__isnull=False)
        .values("shop", "stall")
        .annotate(n=Count("id"))
        .order_by("shop", "stall")
    )
    counts = list(
        Parcel.objects.filter(next_check_at__isnull=False)
        .values("shop")
        .annotate(n=Count("id"))
        .order_by("shop")
    )
    ids = {r["shop"] for r in rows} | {r["shop"] for r in counts}
    shops = {s.pk: s for s in Shop.objects.select_related("tenant").filter(pk__in=ids)}
    for row in rows:
        out.sample(stalled, row["n"], stall=row["stall"], **shop_labels(shops[row["shop"]]))
    for row in counts:
        out.sample(tracked, row["n"], **shop_labels(shops[row["shop"]]))


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
    endpoint_health(out)


def feed_consumers(out: Exposition) -> None:
    """Per usable API key that has read the change feed: the age of its oldest unread change."""
    name = "ordersync_feed_consumer_lag_seconds"
    out.family(name, "gauge", "age of the oldest change an API key has not read (0: caught up)")
    keys = ApiKey.objects.filter(revoked_at__isnull=True, feed_read_at__isnull=False)
    for key in keys.select_related("tenant").order_by("id"):
        lag = feed_position(key).lag_seconds
        if lag is not None:
            out.sample(name, lag, tenant=key.tenant.slug, api_key=key.prefix)


ENDPOINT_HEALTH = (
    ("ordersync_webhook_endpoint_backlog", "backlog", "deliveries pending per endpoint"),
    (
        "ordersync_webhook_endpoint_oldest_pending_seconds",
        "oldest_pending_seconds",
        "age of the endpoint's oldest pending delivery",
    ),
    (
        "ordersync_webhook_endpoint_success_ratio",
        "success_rate_24h",
        "share of the endpoint's attempts of the last 24 hours that succeeded",
    ),
)


def endpoint_health(out: Exposition) -> None:
    """Per active endpoint: backlog, oldest pending age, success ratio (absent when there is
    nothing to measure)."""
    endpoints = list(
        WebhookEndpoint.objects.filter(is_active=True)
        .select_related("tenant")
        .order_by("id")
        .only("id", "tenant__slug")
    )
    found = health.endpoint_health([e.pk for e in endpoints])
    for name, attribute, help_text in ENDPOINT_HEALTH:
        out.family(name, "gauge", help_text)
        for endpoint in endpoints:
            value = getattr(found[endpoint.pk], attribute)
            if value is not None:
                out.sample(name, value, tenant=endpoint.tenant.slug, endpoint_id=endpoint.pk)


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
        "JDP per shop: changes written; late (delivered first, stamped past JDP_LATE_SECONDS)",
    )
    rows = list(JdpShop.objects.select_related("shop__tenant"))
    for row in rows:
        for kind in ("changes_written", "late"):
            labels = {**shop_labels(row.shop), "kind": kind}
            out.sample("ordersync_jdp_changes_total", getattr(row, kind), **labels)
    jdp_findings(out, rows)


def jdp_findings(out: Exposition, rows: list[JdpShop]) -> None:
    """What polling and the reconcile stored before JDP, by what JDP then did with it."""
    out.family(
        "ordersync_jdp_findings",
        "gauge",
        "versions polling or the reconcile stored before JDP, by outcome (platform times)",
    )
    found = findings.counts([row.shop_id for row in rows])
    for row in rows:
        for channel in findings.CHANNELS:
            for outcome in JdpFinding.Outcome.values:
                count = found[row.shop_id][(channel, outcome)]
                labels = {**shop_labels(row.shop), "channel": channel, "outcome": outcome}
                out.sample("ordersync_jdp_findings", count, **labels)
