"""State of the service itself (not of any tenant)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """Written by a scheduled task every minute: proof that the scheduler and a worker run."""

    name = models.CharField(max_length=50, primary_key=True, verbose_name=_("name"))
    beat_at = models.DateTimeField(verbose_name=_("beat at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at}"


class RateCounter(models.Model):
    """Requests counted in the current window of one key (``ordersync.ratelimit``).

    UNLOGGED (migration): every API request writes it, and a crash losing the counts of the
    current minute is harmless. Rows whose window is over are pruned every minute.
    """

    key = models.CharField(max_length=200, primary_key=True, verbose_name=_("key"))
    window_ends = models.DateTimeField(db_index=True, verbose_name=_("window ends"))
    hits = models.PositiveIntegerField(verbose_name=_("hits"))

    class Meta:
        verbose_name = _("rate counter")
        verbose_name_plural = _("rate counters")

    def __str__(self) -> str:
        return f"{self.key}: {self.hits} until {self.window_ends}"
