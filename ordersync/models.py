"""State of the service itself (not of any tenant)."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """Written by a scheduled task every minute: proof that the scheduler and a worker run."""

    name = models.CharField(max_length=50, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at}"
