"""How each webhook endpoint keeps up: its backlog (deliveries pending), the age of the
oldest one, and the share of attempts that succeeded over the last day. Read by the API
(``health`` on an endpoint), the console and ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
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


_DELIVERIES = WebhookDelivery._meta.db_table
_ATTEMPTS = WebhookAttempt._meta.db_table
# One statement, so a page of endpoints costs one query: pending deliveries per endpoint
# (``webhookdelivery_ep_pending_idx``), then the last day's attempts
# (``webhookattempt_started_idx``).
_HEALTH_SQL = f"""
    SELECT endpoint_id, 'pending', count(*), min(created_at), 0
    FROM {_DELIVERIES}
    WHERE endpoint_id = ANY(%(ids)s) AND state = 'pending'
    GROUP BY endpoint_id
    UNION ALL
    SELECT d.endpoint_id, 'attempts', count(*), NULL, count(*) FILTER (WHERE a.outcome = 'success')
    FROM {_ATTEMPTS} a JOIN {_DELIVERIES} d ON d.id = a.delivery_id
    WHERE d.endpoint_id = ANY(%(ids)s) AND a.started_at >= %(since)s
    GROUP BY d.endpoint_id
"""


def endpoint_health(endpoint_ids: list[int], now: datetime | None = None) -> dict[int, Health]:
    """The health of each endpoint of ``endpoint_ids``, in one query whatever their number."""
    now = now or timezone.now()
    found = {pk: Health() for pk in endpoint_ids}
    if not endpoint_ids:
        return found
    with connection.cursor() as cursor:
        cursor.execute(_HEALTH_SQL, {"ids": list(endpoint_ids), "since": now - SUCCESS_SPAN})
        rows = cursor.fetchall()
    for endpoint_id, part, count, oldest, succeeded in rows:
        health = found[endpoint_id]
        if part == "pending":
            health.backlog = count
            health.oldest_pending_seconds = round((now - oldest).total_seconds(), 1)
        else:
            health.attempts_24h = count
            health.success_rate_24h = round(succeeded / count, 4)
    return found
