"""Recording what a batch of deliveries did: the attempts, the next step, endpoint health.

One transaction per batch. A delivery is only moved on when it still carries the attempt
number we claimed it with: a redeliver (or another worker's claim after our lease ran out)
in the meantime wins, and our attempt is only logged.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from trades.webhooks import retry
from trades.webhooks.delivery import Outcome, Result
from trades.webhooks.events import emit_endpoint_failing
from trades.webhooks.models import (
    WebhookAttempt,
    WebhookCounter,
    WebhookDelivery,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

_DELIVERY = WebhookDelivery._meta.db_table
_COUNTER = WebhookCounter._meta.db_table
_MOVE_ON_SQL = f"""
    UPDATE {_DELIVERY} d
    SET state = u.state, next_attempt_at = u.next_attempt_at, last_attempt_at = u.at,
        last_status_code = u.code, last_error = u.error,
        delivered_at = CASE WHEN u.state = 'succeeded' THEN u.at ELSE d.delivered_at END
    FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::timestamptz[], %s::timestamptz[],
                %s::int[], %s::text[]) AS u(id, attempt, state, next_attempt_at, at, code, error)
    WHERE d.id = u.id AND d.attempts = u.attempt AND d.state = 'pending'
"""
_COUNT_SQL = f"""
    INSERT INTO {_COUNTER} (outcome, count) SELECT * FROM unnest(%s::text[], %s::bigint[])
    ON CONFLICT (outcome) DO UPDATE SET count = {_COUNTER}.count + EXCLUDED.count
"""


def _next_step(result: Result, rand: Callable[[], float]) -> tuple[str, float | None]:
    """The delivery's new state and, if it stays pending, seconds until its next attempt."""
    if result.ok:
        return WebhookDelivery.State.SUCCEEDED, None
    if result.outcome == Outcome.GONE or not retry.should_retry(result.job.attempt):
        return WebhookDelivery.State.FAILED, None
    return WebhookDelivery.State.PENDING, retry.sleep_seconds(result.job.attempt, rand)


@transaction.atomic
def record(results: list[Result], rand: Callable[[], float] = random.random) -> dict[int, float]:
    """Store the attempts and move each delivery on; return the deliveries due again within
    ``WEBHOOKS_REQUEUE_SECONDS`` (short retries, for the caller to re-queue) and their waits."""
    if not results:
        return {}
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(
            delivery_id=r.job.delivery_id,
            number=r.job.attempt,
            started_at=r.started_at,
            duration_ms=r.duration_ms,
            outcome=r.outcome,
            status_code=r.status_code,
            response_body=r.response_body,
            error=r.error,
        )
        for r in results
    )
    ordered = sorted(results, key=lambda r: r.job.delivery_id)  # one lock order
    steps = [_next_step(r, rand) for r in ordered]
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _MOVE_ON_SQL,
            [
                [r.job.delivery_id for r in ordered],
                [r.job.attempt for r in ordered],
                [state for state, _ in steps],
                [now + timedelta(seconds=wait) if wait is not None else None for _, wait in steps],
                [r.started_at for r in ordered],
                [r.status_code for r in ordered],
                [r.error for r in ordered],
            ],
        )
    _endpoint_health(results, now)
    _count(results)
    return {
        r.job.delivery_id: wait
        for r, (_, wait) in zip(ordered, steps, strict=True)
        if wait is not None and wait <= settings.WEBHOOKS_REQUEUE_SECONDS
    }


def _count(results: list[Result]) -> None:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    outcomes = sorted(counts)  # one lock order for concurrent recorders
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SQL, [outcomes, [counts[o] for o in outcomes]])


def _endpoint_health(results: list[Result], now: datetime) -> None:
    """A success clears an endpoint's failure run; 410 disables it at once; a run of failures
    longer than ``WEBHOOKS_DISABLE_AFTER_HOURS`` disables it with the reason."""
    healthy = {r.job.endpoint_id for r in results if r.ok}
    last_failure = {r.job.endpoint_id: r for r in results if not r.ok}
    gone = sorted({r.job.endpoint_id for r in results if r.outcome == Outcome.GONE})
    failing = sorted(set(last_failure) - healthy)
    endpoints = WebhookEndpoint.objects
    if healthy:
        endpoints.filter(pk__in=sorted(healthy), failing_since__isnull=False).update(
            failing_since=None, failing_warned_at=None
        )
    if failing:
        first = min(r.started_at for r in results if r.job.endpoint_id in failing)
        endpoints.filter(pk__in=failing, failing_since__isnull=True).update(failing_since=first)
        warn_failing(failing, {pk: r.error or r.outcome for pk, r in last_failure.items()}, now)
    for endpoint_id in gone:
        disable(endpoint_id, f"the endpoint answered 410 Gone at {now:%Y-%m-%d %H:%M:%S %Z}")
    window = timedelta(hours=settings.WEBHOOKS_DISABLE_AFTER_HOURS)
    overdue = endpoints.filter(
        pk__in=failing, is_active=True, failing_since__lte=now - window
    ).values_list("pk", "failing_since")
    for endpoint_id, since in overdue:
        last = last_failure[endpoint_id]
        disable(
            endpoint_id,
            f"every delivery failed since {since:%Y-%m-%d %H:%M:%S %Z} "
            f"(over {settings.WEBHOOKS_DISABLE_AFTER_HOURS:g} h); last: "
            f"{last.error or last.outcome}",
        )


def warn_failing(endpoint_ids: list[int], last_errors: dict[int, str], now: datetime) -> None:
    """Warn the tenant, once per failure run, of each endpoint failing for longer than
    ``WEBHOOKS_WARN_FRACTION`` of ``WEBHOOKS_DISABLE_AFTER_HOURS``: a
    ``webhook_endpoint.failing`` event to its other endpoints, and a log line (the console
    and ``/metrics`` read ``failing_warned_at`` and ``failing_since``)."""
    window = timedelta(hours=settings.WEBHOOKS_DISABLE_AFTER_HOURS)
    due = WebhookEndpoint.objects.filter(
        pk__in=endpoint_ids,
        is_active=True,
        failing_warned_at__isnull=True,
        failing_since__lte=now - window * settings.WEBHOOKS_WARN_FRACTION,
    )
    for endpoint in due.order_by("pk").select_for_update(skip_locked=True):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_warned_at=now)
        assert endpoint.failing_since is not None  # filtered above
        disable_at = endpoint.failing_since + window
        log.warning("webhook endpoint %s failing since %s", endpoint.pk, endpoint.failing_since)
        emit_endpoint_failing(endpoint, disable_at, last_errors.get(endpoint.pk, ""))


def disable(endpoint_id: int, reason: str) -> bool:
    """Stop delivering to an endpoint, with the reason its tenant is shown."""
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
        is_active=False, disabled_reason=reason[:500], disabled_at=timezone.now()
    )
    if changed:
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
    return bool(changed)
