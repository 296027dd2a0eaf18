"""Where the shared state of the TOP client lives: the API budget and the platform clock."""

from __future__ import annotations

from django.db import models


class ApiBudget(models.Model):
    """One app key's token bucket, bans, waiting shops and wait count (see limiter.py).

    Every API call of every worker locks this row for a moment (by primary key).
    """

    app_key = models.CharField(max_length=64, primary_key=True)
    state = models.JSONField(default=dict)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.app_key


class PlatformClockOffset(models.Model):
    """Platform time minus the database server's time, measured with taobao.time.get."""

    key = models.CharField(max_length=200, primary_key=True)
    offset_seconds = models.FloatField(default=0.0)
    measured_at = models.FloatField(default=0.0, help_text="database epoch seconds; 0 = never")
    claimed_until = models.FloatField(default=0.0, help_text="a process is measuring until then")

    def __str__(self) -> str:
        return f"{self.key}: {self.offset_seconds:+.3f}s"


class ApiCallStat(models.Model):
    """Calls to TOP by app, method, outcome and code, summed over every process.

    Each process adds its counts every few seconds (``stats.py``); ``/metrics`` reads them.
    """

    app_key = models.CharField(max_length=64)
    method = models.CharField(max_length=100)
    outcome = models.CharField(max_length=40)
    code = models.IntegerField(default=0, help_text="TOP error code; 0 for success")
    calls = models.BigIntegerField(default=0)
    duration_sum = models.FloatField(default=0.0)
    buckets = models.JSONField(default=list, help_text="calls per latency bucket, cumulative")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app_key", "method", "outcome", "code"], name="apicallstat_one_per_series"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.outcome} {self.code}: {self.calls}"
