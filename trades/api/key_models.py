"""Per-tenant API keys for partner systems."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.models import Tenant


class ApiKey(models.Model):
    """A bearer token of one tenant; only its SHA-256 is stored, ``prefix`` finds the row.

    The token has 256 bits of randomness, so a plain (unsalted, fast) hash is enough: there is
    nothing to brute-force, unlike a password.
    """

    class Scope(models.TextChoices):
        READ = "read", _("read")
        READ_WRITE = "read_write", _("read and write")

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("tenant")
    )
    name = models.CharField(
        max_length=100, help_text=_("who uses it, e.g. 'ERP production'"), verbose_name=_("name")
    )
    prefix = models.CharField(max_length=16, unique=True, editable=False, verbose_name=_("prefix"))
    token_hash = models.CharField(max_length=64, editable=False, verbose_name=_("token hash"))
    scope = models.CharField(
        max_length=16, choices=Scope.choices, default=Scope.READ, verbose_name=_("scope")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    revoked_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("revoked at")
    )
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("last used at")
    )
    feed_cursor = models.CharField(
        max_length=100, blank=True, default="", editable=False,
        help_text=_("the change-feed cursor this key was last handed (where its reader stands)"),
     verbose_name=_("feed cursor"))  # fmt: skip
    feed_read_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("feed read at")
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.READ_WRITE

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
