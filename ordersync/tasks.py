"""Tasks of the service itself."""

from __future__ import annotations

from django.utils import timezone

from ordersync.models import Heartbeat

CLUSTER = "cluster"


def heartbeat() -> None:
    """Scheduled every minute; ``/healthz`` checks that it ran recently."""
    Heartbeat.objects.update_or_create(name=CLUSTER, defaults={"beat_at": timezone.now()})
