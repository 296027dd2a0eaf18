"""Actions on webhook endpoints: create, change, rotate the secret, test, redeliver.

Secrets are shown to the tenant once (on creation and rotation), stored encrypted, and never
logged.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shops import audit, caps
from shops.audit.diff import diff, snapshot
from shops.models import Tenant
from trades.webhooks.guard import BadURL, allowed, parse_url
from trades.webhooks.models import (
    SUBSCRIBABLE,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSecret,
)
from trades.webhooks.outbox import queue_deliveries

SECRET_PREFIX = "whsec_"


class InvalidEndpoint(ValueError):
    """A URL or an event type that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class IssuedSecret:
    """An endpoint and its new secret: the only time the secret is shown."""

    endpoint: WebhookEndpoint
    secret: str


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def check_url(url: str) -> str:
    """Refuse what can never be delivered: other schemes, ports out of range, host names
    IDNA cannot encode, and literal non-public addresses.

    Host names are checked at every delivery (they may resolve differently by then).
    """
    try:
        target = parse_url(url)
    except BadURL as exc:
        raise InvalidEndpoint(_("url %(problem)s") % {"problem": exc}) from None
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise InvalidEndpoint(_("url must not hold credentials; the signature authenticates us"))
    try:
        ipaddress.ip_address(target.host)
    except ValueError:
        return url
    if not allowed(target.host):
        raise InvalidEndpoint(_("url must not point at a private, loopback or link-local address"))
    return url


def check_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(SUBSCRIBABLE))
    if unknown or not event_types:
        raise InvalidEndpoint(
            _("event_types must be some of %(known)s; unknown: %(unknown)s")
            % {"known": SUBSCRIBABLE, "unknown": unknown}
        )
    return sorted(set(event_types))


@transaction.atomic
def create_endpoint(
    tenant: Tenant, url: str, event_types: list[str], description: str = ""
) -> IssuedSecret:
    """A new active endpoint with its first secret.

    Raises :class:`~shops.caps.OverCap` if the tenant has ``TENANT_MAX_WEBHOOK_ENDPOINTS``.
    """
    url, event_types = check_url(url), check_event_types(event_types)
    caps.lock_tenant(tenant.pk)
    caps.check_count(
        WebhookEndpoint.objects.filter(tenant=tenant).count(),
        settings.TENANT_MAX_WEBHOOK_ENDPOINTS,
        _("webhook endpoints; delete one first"),
        "TENANT_MAX_WEBHOOK_ENDPOINTS",
    )
    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant,
        url=url,
        event_types=event_types,
        description=description,
    )
    secret = new_secret()
    WebhookSecret.objects.create(endpoint=endpoint, secret=secret)
    changes = diff({}, snapshot(endpoint))
    audit.record(audit.Action.ENDPOINT_CREATED, target=endpoint, changes=changes)
    return IssuedSecret(endpoint, secret)


@transaction.atomic
def update_endpoint(endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change url, event_types, description or is_active. Enabling clears the disabled
    reason and the failure run, and the deliveries that waited become due."""
    if "url" in changes:
        changes["url"] = check_url(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = check_event_types(changes["event_types"])
    if changes.get("is_active") and not endpoint.is_active:
        changes.update(disabled_reason="", disabled_at=None, failing_since=None)
    elif changes.get("is_active") is False and endpoint.is_active:
        changes.update(disabled_reason="disabled by the tenant", disabled_at=timezone.now())
    before = snapshot(endpoint)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.save()
    changed = diff(before, snapshot(endpoint))
    if changed:
        audit.record(audit.Action.ENDPOINT_CHANGED, target=endpoint, changes=changed)
    return endpoint


@transaction.atomic
def rotate_secret(endpoint: WebhookEndpoint, overlap: timedelta | None = None) -> IssuedSecret:
    """A new secret that signs from now on; the current ones keep signing for ``overlap``
    (default ``WEBHOOKS_SECRET_OVERLAP_HOURS``), so a receiver can switch without a gap."""
    if overlap is None:
        overlap = timedelta(hours=settings.WEBHOOKS_SECRET_OVERLAP_HOURS)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    retire_at = timezone.now() + overlap
    endpoint.secrets.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=retire_at)).update(
        expires_at=retire_at
    )
    secret = new_secret()
    WebhookSecret.objects.create(endpoint=endpoint, secret=secret)
    details = {"old_secrets_sign_until": retire_at.isoformat()}
    audit.record(audit.Action.ENDPOINT_SECRET_ROTATED, target=endpoint, details=details)
    return IssuedSecret(endpoint, secret)


def _signing_secrets(now: datetime) -> QuerySet[WebhookSecret]:
    return (
        WebhookSecret.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at", "-id")
        .only("id", "endpoint_id", "created_at", "expires_at")
    )


def with_secret_expiries(endpoints: QuerySet[WebhookEndpoint]) -> QuerySet[WebhookEndpoint]:
    """Endpoints with their signing secrets' expiries fetched in one query for the whole page."""
    signing = Prefetch("secrets", queryset=_signing_secrets(timezone.now()), to_attr="signing")
    return endpoints.prefetch_related(signing)


def secret_expiries(endpoint: WebhookEndpoint, now: datetime | None = None) -> list:
    """When each secret that still signs stops (None: the current one), newest first."""
    if hasattr(endpoint, "signing"):  # prefetched by with_secret_expiries
        return [secret.expires_at for secret in endpoint.signing]
    signing = _signing_secrets(now or timezone.now()).filter(endpoint=endpoint)
    return list(signing.values_list("expires_at", flat=True))


@transaction.atomic
def send_test_event(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``webhook.test`` event to this endpoint only, whatever it subscribes to.

    Raises :class:`~shops.caps.TooSoon` past ``TENANT_TEST_EVENTS_PER_HOUR`` of the tenant.
    """
    if not endpoint.is_active:
        raise InvalidEndpoint(_("the endpoint is disabled; enable it first"))
    _check_test_events(endpoint.tenant_id)
    event = WebhookEvent.objects.create(
        tenant_id=endpoint.tenant_id,
        type=EventType.TEST,
        data={"endpoint": endpoint.pk, "message": "a test event"},
    )
    delivery = WebhookDelivery.objects.create(
        tenant_id=endpoint.tenant_id,
        endpoint=endpoint,
        event=event,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(partial(queue_deliveries, [delivery.pk]))
    return delivery


def _check_test_events(tenant_id: int) -> None:
    caps.lock_tenant(tenant_id)
    hour_ago = timezone.now() - timedelta(hours=1)
    cap = settings.TENANT_TEST_EVENTS_PER_HOUR
    # served by webhookevent_test_idx
    recent = list(
        WebhookEvent.objects.filter(
            tenant_id=tenant_id, type=EventType.TEST, created_at__gt=hour_ago
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:cap]
    )
    if len(recent) >= cap:
        raise caps.TooSoon(
            _("the tenant sent %(count)d test events in the last hour, the most allowed")
            % {"count": cap},
            "TENANT_TEST_EVENTS_PER_HOUR",
            retry_after=(recent[-1] - hour_ago).total_seconds(),
        )


@dataclass(frozen=True)
class Redelivered:
    """How many deliveries were queued again, and where the next page starts (the last id
    queued, to pass as ``after``), or None when none are left."""

    count: int
    next_after: int | None


@transaction.atomic
def redeliver(tenant_id: int, deliveries: QuerySet[WebhookDelivery], after: int = 0) -> Redelivered:
    """Send the tenant's ``deliveries`` with ids above ``after`` again now, whatever their
    state, with a fresh retry ladder: one page of them, lowest ids first.

    A page is at most ``WEBHOOKS_REDELIVER_PAGE`` deliveries less those of the tenant that
    still wait for a first try, so one tenant never fills the shared queue: with a full page
    waiting it raises :class:`~shops.caps.TooSoon`. The event keeps its id, so a receiver
    that already has it can recognize the duplicate.
    """
    caps.lock_tenant(tenant_id)
    page = settings.WEBHOOKS_REDELIVER_PAGE
    room = page - waiting_deliveries(tenant_id, page)
    if room <= 0:
        raise caps.TooSoon(
            _(
                "%(count)d or more of the tenant's deliveries wait for their first try; "
                "redeliver more when they have been sent"
            )
            % {"count": page},
            "WEBHOOKS_REDELIVER_PAGE",
            retry_after=60,
        )
    candidates = deliveries.filter(tenant_id=tenant_id, pk__gt=after).order_by("id")
    ids = list(candidates.values_list("pk", flat=True)[: room + 1])
    more = len(ids) > room
    ids = ids[:room]
    WebhookDelivery.objects.filter(pk__in=ids).update(
        state=WebhookDelivery.State.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    if ids:
        transaction.on_commit(partial(queue_deliveries, ids))
    return Redelivered(len(ids), ids[-1] if more else None)


def waiting_deliveries(tenant_id: int, up_to: int) -> int:
    """How many of the tenant's deliveries wait for their first try, counted up to ``up_to``
    (served by webhookdelivery_waiting_idx)."""
    waiting = WebhookDelivery.objects.filter(
        tenant_id=tenant_id, state=WebhookDelivery.State.PENDING, attempts=0
    )
    return waiting[:up_to].count()


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint with its secrets and deliveries."""
    audit.record(
        audit.Action.ENDPOINT_DELETED, target=endpoint, changes=diff(snapshot(endpoint), {})
    )
    endpoint.delete()
