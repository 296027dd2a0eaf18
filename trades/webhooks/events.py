"""Events that are not trade or refund changes: a shop that needs re-authorization, a
reconcile that found trades the sync had missed, an endpoint that keeps failing. They go
through the outbox like the rest."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from ordersync.shown import iso
from shops.models import Shop
from shops.signals import shop_needs_reauth
from trades.models import ReconcileReport
from trades.webhooks.health import endpoint_health
from trades.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent
from trades.webhooks.outbox import emit, queue_deliveries

MISSING_TIDS_SHOWN = 100


def _on_needs_reauth(sender: object, shop: Shop, reason: str, **kwargs: Any) -> None:
    emit(
        shop.tenant_id,
        EventType.SHOP_NEEDS_REAUTH,
        {"shop": shop.pk, "seller_nick": shop.seller_nick, "reason": reason},
        shop_id=shop.pk,
    )


def connect() -> None:
    shop_needs_reauth.connect(_on_needs_reauth, dispatch_uid="webhooks-shop-needs-reauth")


def emit_found_missing(report: ReconcileReport) -> list[int]:
    """``reconcile.found_missing`` for a saved report; call in the transaction that saved it."""
    return emit(
        report.tenant_id,
        EventType.RECONCILE_FOUND_MISSING,
        {
            "shop": report.shop_id,
            "report": report.pk,
            "day": str(report.day),
            "missing_found": report.missing_found,
            "tids": report.details.get("missing", [])[:MISSING_TIDS_SHOWN],
            "refunds_missing_found": report.refunds_missing_found,
            "refund_ids": report.details.get("refunds", {}).get("missing", [])[:MISSING_TIDS_SHOWN],
        },
        shop_id=report.shop_id,
    )


def emit_endpoint_failing(
    endpoint: WebhookEndpoint, disable_at: datetime, last_error: str
) -> list[int]:
    """``webhook_endpoint.failing`` for the tenant's other active endpoints that subscribe to
    it (the failing one would not get it); call in a transaction. Return the delivery ids."""
    others = list(
        WebhookEndpoint.objects.filter(
            tenant_id=endpoint.tenant_id,
            is_active=True,
            event_types__contains=[EventType.ENDPOINT_FAILING],
        )
        .exclude(pk=endpoint.pk)
        .values_list("pk", flat=True)
    )
    if not others:
        return []
    event = WebhookEvent.objects.create(
        tenant_id=endpoint.tenant_id,
        type=EventType.ENDPOINT_FAILING,
        data={
            "endpoint": endpoint.pk,
            "url": endpoint.url,
            "failing_since": iso(endpoint.failing_since),
            "disable_at": iso(disable_at),
            "last_error": last_error[:500],
            "backlog": endpoint_health([endpoint.pk])[endpoint.pk].backlog,
        },
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            tenant_id=endpoint.tenant_id,
            endpoint_id=pk,
            event=event,
            next_attempt_at=timezone.now(),
        )
        for pk in others
    )
    ids = [d.pk for d in deliveries]
    transaction.on_commit(partial(queue_deliveries, ids))
    return ids
