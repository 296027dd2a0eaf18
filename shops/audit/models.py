"""The audit log: who did what, when and from where. Rows are only ever inserted: a trigger
(migration ``audit_append_only``) refuses UPDATE and DELETE in the database itself."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    SHOP_SYNC = "shop.sync", _("sync queued")
    SHOP_BACKFILL = "shop.backfill", _("backfill queued")
    SHOP_RECONCILE = "shop.reconcile", _("reconcile queued")
    SHOP_REFETCH = "shop.refetch", _("re-pull queued")
    SHOP_CONNECTED = "shop.connected", _("shop connected")
    SHOP_REAUTHORIZED = "shop.reauthorized", _("shop re-authorized")
    SHOP_DISCONNECTED = "shop.disconnected", _("shop disconnected")
    SHOP_PAUSED = "shop.paused", _("shop paused")
    SHOP_RESUMED = "shop.resumed", _("shop resumed")
    SHOP_NEEDS_REAUTH = "shop.needs_reauth", _("shop lost its authorization")
    BUYER_DATA_ERASED = "shop.buyer_data_erased", _("buyer data erased")
    WEBHOOK_REPLAY = "webhook.replay", _("events replayed")
    API_KEY_CREATED = "api_key.created", _("API key created")
    API_KEY_ROTATED = "api_key.rotated", _("API key rotated")
    API_KEY_REVOKED = "api_key.revoked", _("API key revoked")
    API_KEY_EXPIRY = "api_key.expiry_changed", _("API key expiry changed")
    ENDPOINT_CREATED = "webhook_endpoint.created", _("webhook endpoint created")
    ENDPOINT_CHANGED = "webhook_endpoint.changed", _("webhook endpoint changed")
    ENDPOINT_DELETED = "webhook_endpoint.deleted", _("webhook endpoint deleted")
    ENDPOINT_SECRET_ROTATED = "webhook_endpoint.secret_rotated", _("webhook secret rotated")
    ADMIN_ADDED = "admin.added", _("added in the console")
    ADMIN_CHANGED = "admin.changed", _("changed in the console")
    ADMIN_DELETED = "admin.deleted", _("deleted in the console")


class ActorKind(models.TextChoices):
    OPERATOR = "operator", _("operator")
    MEMBER = "member", _("tenant member")
    API_KEY = "api_key", _("API key")
    SYSTEM = "system", _("system")
    ANONYMOUS = "anonymous", _("anonymous")


class AuditEntry(models.Model):
    """One thing done. Links to tenants, users and keys are plain ids (no foreign-key
    constraint): an entry outlives what it names, and deleting a tenant never has to delete
    (or be refused deleting) its history."""

    at = models.DateTimeField(db_default=Now(), verbose_name=_("at"))
    tenant = models.ForeignKey(
        "shops.Tenant",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tenant"),
    )
    actor_kind = models.CharField(
        max_length=16, choices=ActorKind.choices, verbose_name=_("kind of actor")
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    actor_key_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("API key id"))
    actor = models.CharField(
        max_length=200, verbose_name=_("who"), help_text=_("user name or key name and prefix")
    )
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP address"))
    user_agent = models.CharField(
        max_length=300, blank=True, default="", verbose_name=_("user agent")
    )
    action = models.CharField(max_length=40, choices=Action.choices, verbose_name=_("action"))
    object_type = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("object type")
    )
    object_id = models.CharField(max_length=64, blank=True, default="", verbose_name=_("object id"))
    object_repr = models.CharField(max_length=200, blank=True, default="", verbose_name=_("object"))
    changes = models.JSONField(
        default=dict,
        blank=True,
        verbose_name=_("changes"),
        help_text=_("field: [before, after]; secrets masked"),
    )
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [
            # the API, the console and exports read a tenant's entries by time
            models.Index(fields=["tenant", "at", "id"], name="auditentry_tenant_at_idx"),
            # operators' list of every tenant, newest first
            models.Index(fields=["at", "id"], name="auditentry_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.at):%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"
