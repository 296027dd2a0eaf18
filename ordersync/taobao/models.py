"""Where the shared state of the TOP client lives: the API budget and the platform clock."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiBudget(models.Model):
    """One app key's token bucket, bans, waiting shops and wait count (see limiter.py).

    Every API call of every worker locks this row for a moment (by primary key).
    """

    app_key = models.CharField(max_length=64, primary_key=True, verbose_name=_("app key"))
    state = models.JSONField(default=dict, verbose_name=_("state"))
    updated = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("API budget")
        verbose_name_plural = _("API budgets")

    def __str__(self) -> str:
        return self.app_key


class PlatformClockOffset(models.Model):
    """Platform time minus the database server's time, measured with taobao.time.get."""

    key = models.CharField(max_length=200, primary_key=True, verbose_name=_("key"))
    offset_seconds = models.FloatField(default=0.0, verbose_name=_("offset seconds"))
    measured_at = models.FloatField(
        default=0.0, help_text=_("database epoch seconds; 0 = never"), verbose_name=_("measured at")
    )
    claimed_until = models.FloatField(
        default=0.0,
        help_text=_("a process is measuring until then"),
        verbose_name=_("claimed until"),
    )

    class Meta:
        verbose_name = _("platform clock offset")
        verbose_name_plural = _("platform clock offsets")

    def __str__(self) -> str:
        return f"{self.key}: {self.offset_seconds:+.3f}s"


class ApiCallStat(models.Model):
    """Calls to TOP by app, method, outcome and code, summed over every process.

    Each process adds its counts every few seconds (``stats.py``); ``/metrics`` reads them.
    """

    app_key = models.CharField(max_length=64, verbose_name=_("app key"))
    method = models.CharField(max_length=100, verbose_name=_("method"))
    outcome = models.CharField(max_length=40, verbose_name=_("outcome"))
    code = models.IntegerField(
        default=0, help_text=_("TOP error code; 0 for success"), verbose_name=_("code")
    )
    calls = models.BigIntegerField(default=0, verbose_name=_("calls"))
    duration_sum = models.FloatField(default=0.0, verbose_name=_("duration sum"))
    buckets = models.JSONField(
        default=list, help_text=_("calls per latency bucket, cumulative"), verbose_name=_("buckets")
    )

    class Meta:
        verbose_name = _("API call stat")
        verbose_name_plural = _("API call stats")
        constraints = [
            models.UniqueConstraint(
                fields=["app_key", "method", "outcome", "code"], name="apicallstat_one_per_series"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.outcome} {self.code}: {self.calls}"
