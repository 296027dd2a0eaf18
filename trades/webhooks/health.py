"""How each webhook endpoint keeps up: its backlog (deliveries pending), the age of the
oldest one, and the share of attempts that succeeded over the last day. Read by the API
(``health`` on an endpoint), the console and ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone

from trades.webhooks.models import WebhookAttempt, WebhookDelivery

SUCCESS_SPAN = timedelta(days=1)


@dataclass
class Health:
    backlog: int = 0
    oldest_pending_seconds: float | None = None
    attempts_24h: int = 0
    success_rate_24h: float | None = None  # None: no attempt in the span

    def as_dict(self) -> dict:
        return {
            "backlog": self.backlog,
            "oldest_pending_seconds": self.oldest_pending_seconds,
            "attempts_24h": self.attempts_24h,
            "success_rate_24h": self.success_rate_24h,
        }


def endpoint_health(endpoint_ids: list[int], now: datetime | None = None) -> dict[int, Health]:
    """The health of each endpoint of ``endpoint_ids``: two grouped queries whatever their
    number (``webhookdelivery_ep_pending_idx``, ``webhookattempt_started_idx``)."""
    now = now or timezone.now()
    found = {pk: Health() for pk in endpoint_ids}
    pending = (
        WebhookDelivery.objects.filter(
            endpoint_id__in=endpoint_ids, state=WebhookDelivery.State.PENDING
        )
        .values("endpoint_id")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    )
    for row in pending:
        health = found[row["endpoint_id"]]
        health.backlog = row["n"]
        health.oldest_pending_seconds = round((now - row["oldest"]).total_seconds(), 1)
    attempts = (
        WebhookAttempt.objects.filter(
            delivery__endpoint_id__in=endpoint_ids, started_at__gte=now - SUCCESS_SPAN
        )
        .values("delivery__endpoint_id")
        .annotate(n=Count("id"), ok=Count("id", filter=Q(outcome=WebhookAttempt.Outcome.SUCCESS)))
    )
    for row in attempts:
        health = found[row["delivery__endpoint_id"]]
        health.attempts_24h = row["n"]
        health.success_rate_24h = round(row["ok"] / row["n"], 4)
    return found
