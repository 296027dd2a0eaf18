"""Per-tenant API keys for partner systems."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from shops.models import Tenant


class ApiKey(models.Model):
    """A bearer token of one tenant; only its SHA-256 is stored, ``prefix`` finds the row.

    The token has 256 bits of randomness, so a plain (unsalted, fast) hash is enough: there is
    nothing to brute-force, unlike a password.
    """

    class Scope(models.TextChoices):
        READ = "read", "read"
        READ_WRITE = "read_write", "read and write"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="who uses it, e.g. 'ERP production'")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.READ)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    feed_cursor = models.CharField(
        max_length=100, blank=True, default="", editable=False,
        help_text="the change-feed cursor this key was last handed (where its reader stands)",
    )  # fmt: skip
    feed_read_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.READ_WRITE

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
