"""State of the service itself (not of any tenant)."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """Written by a scheduled task every minute: proof that the scheduler and a worker run."""

    name = models.CharField(max_length=50, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at}"


class RateCounter(models.Model):
    """Requests counted in the current window of one key (``ordersync.ratelimit``).

    UNLOGGED (migration): every API request writes it, and a crash losing the counts of the
    current minute is harmless. Rows whose window is over are pruned every minute.
    """

    key = models.CharField(max_length=200, primary_key=True)
    window_ends = models.DateTimeField(db_index=True)
    hits = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.key}: {self.hits} until {self.window_ends}"
