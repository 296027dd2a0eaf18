"""Tenants, their members, the ISV's TOP apps, shops and their sync state."""

from __future__ import annotations

import math
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ordersync.crypto import EncryptedTextField


class Tenant(models.Model):
    """A merchant company; everything a partner or tenant admin sees hangs off one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        VIEWER = "viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_one_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"

    @property
    def can_write(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class TopApp(models.Model):
    """The ISV's application on the Taobao Open Platform; its API budget is shared."""

    class SignMethod(models.TextChoices):
        MD5 = "md5"
        HMAC = "hmac"
        HMAC_SHA256 = "hmac-sha256"

    name = models.CharField(max_length=100)
    app_key = models.CharField(max_length=64, unique=True)
    app_secret = EncryptedTextField()
    gateway_url = models.URLField(default="https://gw.api.taobao.com/router/rest")
    authorize_url = models.URLField(default="https://oauth.taobao.com/authorize")
    token_url = models.URLField(default="https://oauth.taobao.com/token")
    sign_method = models.CharField(
        max_length=16, choices=SignMethod.choices, default=SignMethod.HMAC_SHA256
    )
    calls_per_minute = models.PositiveIntegerField(default=1000)
    incrementv_denied_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when the platform last refused taobao.trades.sold.incrementv.get to this app "
        "(no permission): trade windows then run on modified time",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(calls_per_minute__gt=0), name="topapp_budget_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.app_key})"


class ShopQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> ShopQuerySet:
        return self.filter(tenant=tenant)


class Shop(models.Model):
    class Platform(models.TextChoices):
        TAOBAO = "taobao"
        TMALL = "tmall"

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        NEEDS_REAUTH = "needs_reauth"
        DISABLED = "disabled"

    class IntervalMode(models.TextChoices):
        AUTO = "auto", "follows the shop's volume"
        FIXED = "fixed", "fixed interval"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="shops")
    app = models.ForeignKey(TopApp, on_delete=models.PROTECT, related_name="shops")
    platform = models.CharField(max_length=8, choices=Platform.choices, default=Platform.TAOBAO)
    seller_nick = models.CharField(max_length=128)
    seller_id = models.BigIntegerField(help_text="the platform's taobao_user_id")
    session_key = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    session_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True, default="")
    interval_mode = models.CharField(
        max_length=8, choices=IntervalMode.choices, default=IntervalMode.AUTO
    )
    interval_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="the fixed interval, or the last one chosen in auto mode"
    )
    degraded = models.BooleanField(
        default=False,
        help_text="fewer, larger pulls while a stream keeps failing (SYNC_DEGRADE_AFTER_MINUTES)",
    )
    degraded_since = models.DateTimeField(
        null=True, blank=True, help_text="when the shop entered degraded mode"
    )
    degraded_reason = models.CharField(
        max_length=500, blank=True, default="", help_text="the failures that degraded the shop"
    )
    next_sync_at = models.DateTimeField(
        null=True, blank=True, help_text="when the dispatcher queues the next sync (active shops)"
    )
    next_reconcile_at = models.DateTimeField(
        null=True, blank=True, help_text="when the dispatcher queues the next daily reconcile"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ShopQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "seller_id"], name="shop_one_per_app_seller"),
            models.CheckConstraint(
                condition=Q(interval_minutes__isnull=True)
                | Q(interval_minutes__gte=1, interval_minutes__lte=30),
                name="shop_interval_1_to_30",
            ),
        ]
        indexes = [
            # the scheduler and the console list shops of one status
            models.Index(fields=["status"], name="shop_status_idx"),
            # shops.schedules.dispatch_due_shops polls the due active shops every minute
            models.Index(
                fields=["next_sync_at"],
                condition=Q(status="active"),
                name="shop_sync_due_idx",
            ),
            models.Index(
                fields=["next_reconcile_at"],
                condition=Q(status="active"),
                name="shop_reconcile_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seller_nick} ({self.platform})"


class Checkpoint(models.Model):
    """Where one stream of one shop stands; its row lock is the run lock of that stream."""

    class Stream(models.TextChoices):
        TRADES = "trades"
        REFUNDS = "refunds"
        BACKFILL = "backfill"
        # the daily reconcile: its failures, backoff and run lock (no cursor)
        RECONCILE = "reconcile"
        # the Jushita push tables: cursor = jdp_modified up to which every row is written
        JDP_TRADES = "jdp_trades"
        JDP_REFUNDS = "jdp_refunds"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="checkpoints")
    stream = models.CharField(max_length=16, choices=Stream.choices)
    cursor = models.DateTimeField(
        null=True, blank=True, help_text="platform time up to which everything is written"
    )
    progress = models.JSONField(default=dict, blank=True, help_text="resumable job state")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    measured_lag_seconds = models.PositiveIntegerField(
        default=0,
        help_text="visibility lag measured from late arrivals (decays with "
        "SYNC_LAG_HALF_LIFE_SECONDS from lag_measured_at); widens lag and overlap",
    )
    lag_measured_at = models.DateTimeField(null=True, blank=True)
    late_arrivals = models.PositiveIntegerField(
        default=0, help_text="changes first seen behind a window end already passed"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "stream"], name="checkpoint_one_per_stream")
        ]

    def __str__(self) -> str:
        return f"{self.shop} {self.stream} @ {self.cursor}"

    def records_kept(self, state: str) -> int:
        """How many records this stream holds ``set_aside`` (waiting for the reconcile) or
        ``unresolved`` (the platform did not return them to the reconcile either)."""
        # the backfill keeps its refunds under refund_* keys (trades.sync.poison)
        return sum(len(self.progress.get(key) or {}) for key in (state, f"refund_{state}"))

    def measured_lag(self, now: datetime | None = None) -> float:
        """``measured_lag_seconds`` decayed to ``now``: it halves every
        ``SYNC_LAG_HALF_LIFE_SECONDS`` after ``lag_measured_at``."""
        if not self.measured_lag_seconds or self.lag_measured_at is None:
            return 0.0
        elapsed = ((now or timezone.now()) - self.lag_measured_at).total_seconds()
        halvings = max(0.0, elapsed) / settings.SYNC_LAG_HALF_LIFE_SECONDS
        return self.measured_lag_seconds * math.pow(0.5, halvings)


# The streams every shop has a checkpoint for from the start (reconcile's comes with its
# first run).
SYNCED_STREAMS = (Checkpoint.Stream.TRADES, Checkpoint.Stream.REFUNDS, Checkpoint.Stream.BACKFILL)


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        BACKFILL = "backfill"
        INCREMENTAL = "incremental"
        RECONCILE = "reconcile"
        REFETCH = "refetch"  # a targeted re-pull of trades or a window (no cursor moved)

    class Outcome(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped", "skipped (another run holds the lock)"

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="sync_runs")
    stream = models.CharField(max_length=16, choices=Checkpoint.Stream.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    api_calls = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    trades_seen = models.PositiveIntegerField(default=0)
    trades_written = models.PositiveIntegerField(default=0)
    error_class = models.CharField(max_length=100, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    worker = models.CharField(max_length=100, blank=True, default="", help_text="host:pid")
    set_aside = models.JSONField(
        default=list,
        blank=True,
        help_text="records this run could not sync and left to the reconcile (tid, reason)",
    )
    late_arrivals = models.PositiveIntegerField(
        default=0, help_text="changes this run found behind a window end already passed"
    )
    notes = models.JSONField(
        default=list, blank=True, help_text="what the run did out of the ordinary, and why"
    )

    class Meta:
        indexes = [
            # the console and the failure-rate check read a shop's latest runs
            models.Index(fields=["shop", "-started_at"], name="syncrun_shop_recent_idx"),
            # /metrics reads the runs of the last hour
            models.Index(fields=["started_at"], name="syncrun_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.shop} {self.outcome}"


class JobRequest(models.Model):
    """The last job of a kind a tenant asked for a shop through the API (shops/jobs.py):
    one at a time per shop and kind, then a cooldown, so no tenant spends its app's shared
    TOP budget on a stream of backfills. ``finished_at`` is set when a task of that kind ends.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="job_requests")
    kind = models.CharField(max_length=16)
    requested_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "kind"], name="jobrequest_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.shop_id} requested {self.requested_at:%Y-%m-%d %H:%M}"
