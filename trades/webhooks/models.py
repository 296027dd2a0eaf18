"""Webhook endpoints of a tenant, their secrets, the event outbox, deliveries and attempts."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ordersync.crypto import EncryptedTextField
from shops.models import Shop, Tenant


class EventType(models.TextChoices):
    TRADE_CREATED = "trade.created", _("trade created")
    TRADE_UPDATED = "trade.updated", _("trade updated")
    TRADE_STATUS_CHANGED = "trade.status_changed", _("trade status changed")
    TRADE_PRESALE_DEPOSIT_PAID = "trade.presale_deposit_paid", _("trade presale deposit paid")
    TRADE_PRESALE_FINAL_PAID = "trade.presale_final_paid", _("trade presale final paid")
    TRADE_PRESALE_FORFEITED = "trade.presale_forfeited", _("trade presale forfeited")
    LOGISTICS_STALLED = "logistics.stalled", _("parcel stalled")
    LOGISTICS_RESUMED = "logistics.resumed", _("parcel moving again")
    REFUND_CREATED = "refund.created", _("refund created")
    REFUND_UPDATED = "refund.updated", _("refund updated")
    SHOP_NEEDS_REAUTH = "shop.needs_reauth", _("shop needs reauth")
    RECONCILE_FOUND_MISSING = "reconcile.found_missing", _("reconcile found missing")
    # sent on request to one endpoint, whatever it subscribes to
    TEST = "webhook.test", _("webhook test")


SUBSCRIBABLE = [t for t in EventType.values if t != EventType.TEST]


class WebhookEndpointQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> WebhookEndpointQuerySet:
        return self.filter(tenant=tenant)


class WebhookEndpoint(models.Model):
    """A URL of a tenant that receives the event types it subscribes to, while active."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name=_("tenant")
    )
    url = models.URLField(max_length=2000, verbose_name=_("URL"))
    description = models.CharField(
        max_length=200, blank=True, default="", verbose_name=_("description")
    )
    event_types = ArrayField(
        models.CharField(max_length=32, choices=EventType.choices), verbose_name=_("event types")
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    disabled_reason = models.CharField(
        max_length=500, blank=True, default="", verbose_name=_("disabled reason")
    )
    disabled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("disabled at"))
    failing_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("first failure since the last success; null when fine"),
        verbose_name=_("failing since"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
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

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="secrets",
        verbose_name=_("endpoint"),
    )
    secret = EncryptedTextField(verbose_name=_("secret"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))

    class Meta:
        verbose_name = _("webhook secret")
        verbose_name_plural = _("webhook secrets")

    def __str__(self) -> str:
        # never the secret itself
        return gettext("secret %(id)s of endpoint %(endpoint)s") % {
            "id": self.pk,
            "endpoint": self.endpoint_id,
        }


class WebhookEvent(models.Model):
    """One event of a tenant, written in the transaction of what it reports (the outbox)."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="webhook_events", verbose_name=_("tenant")
    )
    shop = models.ForeignKey(
        Shop,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_events",
        verbose_name=_("shop"),
    )
    uuid = models.UUIDField(db_default=RandomUUID(), editable=False, verbose_name=_("uuid"))
    type = models.CharField(max_length=32, choices=EventType.choices, verbose_name=_("type"))
    data = models.JSONField(default=dict, verbose_name=_("data"))
    created_at = models.DateTimeField(db_default=Now(), verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        indexes = [
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
        PENDING = "pending", _("pending")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed (given up)")

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING, verbose_name=_("state")
    )
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text=_("since the last redeliver"), verbose_name=_("attempts")
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    last_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last attempt at"))
    last_status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("last status code")
    )
    last_error = models.CharField(
        max_length=500, blank=True, default="", verbose_name=_("last error")
    )
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    created_at = models.DateTimeField(db_default=Now(), verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
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
        return gettext("delivery %(id)s (%(state)s)") % {
            "id": self.pk,
            "state": self.get_state_display(),
        }


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, as it went."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("success")
        HTTP_ERROR = "http_error", _("non-2xx answer")
        GONE = "gone", _("410 Gone")
        REDIRECT = "redirect", _("redirect (not followed)")
        TIMEOUT = "timeout", _("timeout")
        CONNECTION_ERROR = "connection_error", _("connection error")
        REFUSED = "refused", _("address refused by the guard")

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="log", verbose_name=_("delivery")
    )
    number = models.PositiveSmallIntegerField(verbose_name=_("number"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    duration_ms = models.PositiveIntegerField(verbose_name=_("duration ms"))
    outcome = models.CharField(max_length=16, choices=Outcome.choices, verbose_name=_("outcome"))
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("status code")
    )
    response_body = models.TextField(
        blank=True, default="", help_text=_("truncated"), verbose_name=_("response body")
    )
    error = models.CharField(max_length=500, blank=True, default="", verbose_name=_("error"))

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        indexes = [
            models.Index(fields=["delivery", "id"], name="webhookattempt_delivery_idx"),
            # endpoint health: the attempts of the last day
            models.Index(fields=["started_at"], name="webhookattempt_started_idx"),
        ]

    def __str__(self) -> str:
        return gettext("attempt %(number)s of delivery %(delivery)s: %(outcome)s") % {
            "number": self.number,
            "delivery": self.delivery_id,
            "outcome": self.get_outcome_display(),
        }


class WebhookCounter(models.Model):
    """Attempts per outcome since the start, for ``/metrics`` (no COUNT over the log)."""

    outcome = models.CharField(max_length=16, unique=True, verbose_name=_("outcome"))
    count = models.BigIntegerField(default=0, verbose_name=_("count"))

    class Meta:
        verbose_name = _("webhook counter")
        verbose_name_plural = _("webhook counters")

    def __str__(self) -> str:
        return f"{self.outcome}: {self.count}"
