"""Webhook endpoints of a tenant, their secrets, the event outbox, deliveries and attempts."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from ordersync.crypto import EncryptedTextField
from shops.models import Shop, Tenant


class EventType(models.TextChoices):
    TRADE_CREATED = "trade.created"
    TRADE_UPDATED = "trade.updated"
    TRADE_STATUS_CHANGED = "trade.status_changed"
    TRADE_PRESALE_DEPOSIT_PAID = "trade.presale_deposit_paid"
    TRADE_PRESALE_FINAL_PAID = "trade.presale_final_paid"
    TRADE_PRESALE_FORFEITED = "trade.presale_forfeited"
    REFUND_CREATED = "refund.created"
    REFUND_UPDATED = "refund.updated"
    SHOP_NEEDS_REAUTH = "shop.needs_reauth"
    RECONCILE_FOUND_MISSING = "reconcile.found_missing"
    # one of the tenant's endpoints keeps failing and will soon be disabled
    ENDPOINT_FAILING = "webhook_endpoint.failing"
    # sent on request to one endpoint, whatever it subscribes to
    TEST = "webhook.test"


SUBSCRIBABLE = [t for t in EventType.values if t != EventType.TEST]


class WebhookEndpointQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> WebhookEndpointQuerySet:
        return self.filter(tenant=tenant)


class WebhookEndpoint(models.Model):
    """A URL of a tenant that receives the event types it subscribes to, while active."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    event_types = ArrayField(models.CharField(max_length=32, choices=EventType.choices))
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="first failure since the last success; null when fine"
    )
    failing_warned_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when the tenant was warned of this failure run; null when not (yet)",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        indexes = [
            # every write looks up the tenant's active endpoints (the outbox join)
            models.Index(
                fields=["tenant"], condition=Q(is_active=True), name="webhookendpoint_active_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookSecret(models.Model):
    """A signing secret; the current one has no ``expires_at``, a rotated one keeps working
    until its ``expires_at`` so receivers can switch without losing a request."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"secret {self.pk} of endpoint {self.endpoint_id}"  # never the secret itself


class WebhookEvent(models.Model):
    """One event of a tenant, written in the transaction of what it reports (the outbox)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_events")
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_events"
    )
    uuid = models.UUIDField(db_default=RandomUUID(), editable=False)
    type = models.CharField(max_length=32, choices=EventType.choices)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_default=Now())
    replay = models.ForeignKey(
        "WebhookReplay",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        help_text="the replay that re-emitted this event; null for an event as it happened",
    )

    class Meta:
        indexes = [
            # a replay's progress counts its events' deliveries
            models.Index(
                fields=["replay"], condition=Q(replay__isnull=False), name="webhookevent_replay_idx"
            ),
            # the cap on test events counts a tenant's of the last hour
            models.Index(
                fields=["tenant", "created_at"],
                condition=Q(type="webhook.test"),
                name="webhookevent_test_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"

    @property
    def public_id(self) -> str:
        """The stable id receivers see (``webhook-id``): the same on every retry."""
        return f"evt_{self.uuid.hex}"


class WebhookDelivery(models.Model):
    """One event for one endpoint: pending until delivered or given up.

    A worker claims a due delivery by moving ``next_attempt_at`` past its lease; if the
    worker dies, the lease runs out and the sweep claims it again, so nothing is lost.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed", "failed (given up)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="since the last redeliver")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # the sweep polls pending deliveries that are due
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="webhookdelivery_due_idx",
            ),
            # API and admin: an endpoint's / a tenant's deliveries, newest first
            models.Index(fields=["endpoint", "-id"], name="webhookdelivery_endpoint_idx"),
            models.Index(fields=["tenant", "-id"], name="webhookdelivery_tenant_idx"),
            # endpoint health (API, console, /metrics): an endpoint's backlog and its oldest
            models.Index(
                fields=["endpoint", "created_at"],
                condition=Q(state="pending"),
                name="webhookdelivery_ep_pending_idx",
            ),
            # redeliver's cap counts a tenant's deliveries waiting for their first try
            models.Index(
                fields=["tenant"],
                condition=Q(state="pending", attempts=0),
                name="webhookdelivery_waiting_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.state})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, as it went."""

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        HTTP_ERROR = "http_error", "non-2xx answer"
        GONE = "gone", "410 Gone"
        REDIRECT = "redirect", "redirect (not followed)"
        TIMEOUT = "timeout"
        CONNECTION_ERROR = "connection_error"
        REFUSED = "refused", "address refused by the guard"

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="", help_text="truncated")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["delivery", "id"], name="webhookattempt_delivery_idx"),
            # endpoint health: the attempts of the last day
            models.Index(fields=["started_at"], name="webhookattempt_started_idx"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.outcome}"


class WebhookCounter(models.Model):
    """Attempts per outcome since the start, for ``/metrics`` (no COUNT over the log)."""

    outcome = models.CharField(max_length=16, unique=True)
    count = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.outcome}: {self.count}"


class WebhookReplay(models.Model):
    """Changes of the feed re-emitted as events to one endpoint, on request: the changes
    committed in ``[since, until)``, or the changes of some trades (``tids``), or both.

    A worker emits them a page at a time (``trades.webhooks.replay``); ``emitted`` and
    ``position`` say how far it got, so a replay whose worker died goes on where it stopped.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_replays")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="replays")
    since = models.DateTimeField(null=True, blank=True, help_text=_("commit time, inclusive"))
    until = models.DateTimeField(help_text=_("commit time, exclusive"))
    tids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    requested_by = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    changes_total = models.PositiveIntegerField(
        default=0, help_text=_("changes the replay covers, counted when it was requested")
    )
    changes_done = models.PositiveIntegerField(default=0, help_text=_("changes re-emitted"))
    emitted = models.PositiveIntegerField(default=0, help_text=_("events re-emitted"))
    # where the next page starts: (commit time, feed position, change id) of the last change
    position = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    touched_at = models.DateTimeField(
        null=True, blank=True, help_text=_("the worker's last step; the sweep resumes stale ones")
    )

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook replay")
        verbose_name_plural = _("webhook replays")
        indexes = [
            # the sweep looks for replays left unfinished; one running per endpoint
            models.Index(
                fields=["endpoint"],
                condition=Q(state__in=["queued", "running"]),
                name="webhookreplay_open_idx",
            ),
            models.Index(fields=["tenant", "-id"], name="webhookreplay_tenant_idx"),
        ]

    def __str__(self) -> str:
        return f"replay {self.pk} to endpoint {self.endpoint_id} ({self.state})"

    @property
    def public_id(self) -> str:
        """The id receivers see in a replayed event's ``replay.id``."""
        return f"rpl_{self.pk}"
