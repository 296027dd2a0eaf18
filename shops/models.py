"""Tenants, their members, the ISV's TOP apps, shops and their sync state."""

from __future__ import annotations

import math
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ordersync.crypto import EncryptedTextField


class Tenant(models.Model):
    """A merchant company; everything a partner or tenant admin sees hangs off one."""

    name = models.CharField(max_length=200, verbose_name=_("name"))
    slug = models.SlugField(max_length=64, unique=True, verbose_name=_("slug"))
    created = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        ADMIN = "admin", _("admin")
        VIEWER = "viewer", _("viewer")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, verbose_name=_("user")
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tenant")
    )
    role = models.CharField(
        max_length=16, choices=Role.choices, default=Role.VIEWER, verbose_name=_("role")
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_one_per_tenant")
        ]

    def __str__(self) -> str:
        return gettext("%(user)s in %(tenant)s (%(role)s)") % {
            "user": self.user,
            "tenant": self.tenant,
            "role": self.get_role_display(),
        }

    @property
    def can_write(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class TopApp(models.Model):
    """The ISV's application on the Taobao Open Platform; its API budget is shared."""

    class SignMethod(models.TextChoices):
        MD5 = "md5", _("md5")
        HMAC = "hmac", _("hmac")
        HMAC_SHA256 = "hmac-sha256", _("hmac-sha256")

    name = models.CharField(max_length=100, verbose_name=_("name"))
    app_key = models.CharField(max_length=64, unique=True, verbose_name=_("app key"))
    app_secret = EncryptedTextField(verbose_name=_("app secret"))
    gateway_url = models.URLField(
        default="https://gw.api.taobao.com/router/rest", verbose_name=_("gateway URL")
    )
    authorize_url = models.URLField(
        default="https://oauth.taobao.com/authorize", verbose_name=_("authorize URL")
    )
    token_url = models.URLField(
        default="https://oauth.taobao.com/token", verbose_name=_("token URL")
    )
    sign_method = models.CharField(
        max_length=16,
        choices=SignMethod.choices,
        default=SignMethod.HMAC_SHA256,
        verbose_name=_("sign method"),
    )
    calls_per_minute = models.PositiveIntegerField(default=1000, verbose_name=_("calls per minute"))
    incrementv_denied_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "when the platform last refused taobao.trades.sold.incrementv.get to this app "
            "(no permission): trade windows then run on modified time"
        ),
        verbose_name=_("incrementv denied at"),
    )

    class Meta:
        verbose_name = _("TOP app")
        verbose_name_plural = _("TOP apps")
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
        TAOBAO = "taobao", _("taobao")
        TMALL = "tmall", _("tmall")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        NEEDS_REAUTH = "needs_reauth", _("needs re-authorization")
        DISABLED = "disabled", _("disabled")

    class IntervalMode(models.TextChoices):
        AUTO = "auto", _("follows the shop's volume")
        FIXED = "fixed", _("fixed interval")

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="shops", verbose_name=_("tenant")
    )
    app = models.ForeignKey(
        TopApp, on_delete=models.PROTECT, related_name="shops", verbose_name=_("app")
    )
    platform = models.CharField(
        max_length=8, choices=Platform.choices, default=Platform.TAOBAO, verbose_name=_("platform")
    )
    seller_nick = models.CharField(max_length=128, verbose_name=_("seller nick"))
    seller_id = models.BigIntegerField(
        help_text=_("the platform's taobao_user_id"), verbose_name=_("seller id")
    )
    session_key = EncryptedTextField(blank=True, default="", verbose_name=_("session key"))
    refresh_token = EncryptedTextField(blank=True, default="", verbose_name=_("refresh token"))
    session_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("session expires at")
    )
    refresh_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("refresh expires at")
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status")
    )
    status_reason = models.CharField(
        max_length=500, blank=True, default="", verbose_name=_("status reason")
    )
    interval_mode = models.CharField(
        max_length=8,
        choices=IntervalMode.choices,
        default=IntervalMode.AUTO,
        verbose_name=_("interval mode"),
    )
    interval_minutes = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=_("the fixed interval, or the last one chosen in auto mode"),
        verbose_name=_("interval minutes"),
    )
    degraded = models.BooleanField(
        default=False,
        help_text=_(
            "fewer, larger pulls while a stream keeps failing (SYNC_DEGRADE_AFTER_MINUTES)"
        ),
        verbose_name=_("degraded"),
    )
    degraded_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("when the shop entered degraded mode"),
        verbose_name=_("degraded since"),
    )
    degraded_reason = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text=_("the failures that degraded the shop"),
        verbose_name=_("degraded reason"),
    )
    authorization_lost_at = models.DateTimeField(
        null=True,
        blank=True,
        verbose_name=_("authorization lost at"),
        help_text=_(
            "when the shop last lost its authorization (needs_reauth); its buyer data is "
            "erased BUYER_DATA_GRACE_DAYS later unless the seller authorizes again"
        ),
    )
    buyer_data_erased_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("buyer data erased at")
    )
    created = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    objects = ShopQuerySet.as_manager()

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
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
        ]

    def __str__(self) -> str:
        return f"{self.seller_nick} ({self.get_platform_display()})"


class Checkpoint(models.Model):
    """Where one stream of one shop stands; its row lock is the run lock of that stream."""

    class Stream(models.TextChoices):
        TRADES = "trades", _("trades")
        REFUNDS = "refunds", _("refunds")
        BACKFILL = "backfill", _("backfill")
        # the daily reconcile: its failures, backoff and run lock (no cursor)
        RECONCILE = "reconcile", _("reconcile")
        # the Jushita push tables: cursor = jdp_modified up to which every row is written
        JDP_TRADES = "jdp_trades", _("JDP trades")
        JDP_REFUNDS = "jdp_refunds", _("JDP refunds")
        JDP_TM_REFUNDS = "jdp_tm_refunds", _("JDP Tmall refunds")  # Tmall's refund table

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="checkpoints", verbose_name=_("shop")
    )
    stream = models.CharField(max_length=16, choices=Stream.choices, verbose_name=_("stream"))
    cursor = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("platform time up to which everything is written"),
        verbose_name=_("cursor"),
    )
    progress = models.JSONField(
        default=dict, blank=True, help_text=_("resumable job state"), verbose_name=_("progress")
    )
    last_success_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last success at"))
    last_error = models.TextField(blank=True, default="", verbose_name=_("last error"))
    consecutive_failures = models.PositiveIntegerField(
        default=0, verbose_name=_("consecutive failures")
    )
    next_run_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next run at"))
    measured_lag_seconds = models.PositiveIntegerField(
        default=0,
        help_text=_(
            "visibility lag measured from late arrivals (decays with "
            "SYNC_LAG_HALF_LIFE_SECONDS from lag_measured_at); widens lag and overlap"
        ),
        verbose_name=_("measured lag seconds"),
    )
    lag_measured_at = models.DateTimeField(null=True, blank=True, verbose_name=_("lag measured at"))
    late_arrivals = models.PositiveIntegerField(
        default=0,
        help_text=_("changes first seen behind a window end already passed"),
        verbose_name=_("late arrivals"),
    )

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        constraints = [
            models.UniqueConstraint(fields=["shop", "stream"], name="checkpoint_one_per_stream")
        ]

    def __str__(self) -> str:
        return f"{self.shop} {self.get_stream_display()} @ {self.cursor}"

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
        BACKFILL = "backfill", _("backfill")
        INCREMENTAL = "incremental", _("incremental")
        RECONCILE = "reconcile", _("reconcile")
        REFETCH = (
            "refetch",
            _("refetch"),
        )  # a targeted re-pull of trades or a window (no cursor moved)

    class Outcome(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped (another run holds the lock)")

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="sync_runs", verbose_name=_("shop")
    )
    stream = models.CharField(
        max_length=16, choices=Checkpoint.Stream.choices, verbose_name=_("stream")
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    window_start = models.DateTimeField(null=True, blank=True, verbose_name=_("window start"))
    window_end = models.DateTimeField(null=True, blank=True, verbose_name=_("window end"))
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    outcome = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.RUNNING, verbose_name=_("outcome")
    )
    api_calls = models.PositiveIntegerField(default=0, verbose_name=_("API calls"))
    pages = models.PositiveIntegerField(default=0, verbose_name=_("pages"))
    trades_seen = models.PositiveIntegerField(default=0, verbose_name=_("trades seen"))
    trades_written = models.PositiveIntegerField(default=0, verbose_name=_("trades written"))
    error_class = models.CharField(
        max_length=100, blank=True, default="", verbose_name=_("error class")
    )
    error_message = models.TextField(blank=True, default="", verbose_name=_("error message"))
    worker = models.CharField(
        max_length=100, blank=True, default="", help_text=_("host:pid"), verbose_name=_("worker")
    )
    set_aside = models.JSONField(
        default=list,
        blank=True,
        help_text=_("records this run could not sync and left to the reconcile (tid, reason)"),
        verbose_name=_("set aside"),
    )
    late_arrivals = models.PositiveIntegerField(
        default=0,
        help_text=_("changes this run found behind a window end already passed"),
        verbose_name=_("late arrivals"),
    )
    notes = models.JSONField(
        default=list,
        blank=True,
        help_text=_("what the run did out of the ordinary, and why"),
        verbose_name=_("notes"),
    )

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        indexes = [
            # the console and the failure-rate check read a shop's latest runs
            models.Index(fields=["shop", "-started_at"], name="syncrun_shop_recent_idx"),
            # /metrics reads the runs of the last hour
            models.Index(fields=["started_at"], name="syncrun_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.shop} {self.get_outcome_display()}"


class JobRequest(models.Model):
    """The last job of a kind a tenant asked for a shop through the API (shops/jobs.py):
    one at a time per shop and kind, then a cooldown, so no tenant spends its app's shared
    TOP budget on a stream of backfills. ``finished_at`` is set when a task of that kind ends.
    """

    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="job_requests", verbose_name=_("shop")
    )
    kind = models.CharField(max_length=16, verbose_name=_("kind"))
    requested_at = models.DateTimeField(verbose_name=_("requested at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("job request")
        verbose_name_plural = _("job requests")
        constraints = [
            models.UniqueConstraint(fields=["shop", "kind"], name="jobrequest_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.shop_id} requested {self.requested_at:%Y-%m-%d %H:%M}"


# Kept in a module of its own; imported here so Django registers it with the app.
from shops.audit.models import AuditEntry  # noqa: E402, F401
