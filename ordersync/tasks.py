"""Tasks of the service itself."""

from __future__ import annotations

from django.utils import timezone

from ordersync import ratelimit
from ordersync.models import Heartbeat

CLUSTER = "cluster"


def heartbeat() -> None:
    """Scheduled every minute; ``/healthz`` checks that it ran recently.

    It also deletes rate-limit counters whose window is over (cheap, and due as often).
    """
    Heartbeat.objects.update_or_create(name=CLUSTER, defaults={"beat_at": timezone.now()})
    ratelimit.prune()
