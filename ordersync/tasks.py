"""Tasks of the service itself."""

from __future__ import annotations

from django.utils import timezone
from django_q.tasks import async_task

from ordersync import ratelimit
from ordersync.models import Heartbeat

CLUSTER = "cluster"


def heartbeat() -> None:
    """Scheduled every minute; ``/healthz`` checks that it ran recently.

    It also deletes rate-limit counters whose window is over (cheap, and due as often).
    """
    Heartbeat.objects.update_or_create(name=CLUSTER, defaults={"beat_at": timezone.now()})
    ratelimit.prune()


def beat_when_a_worker_starts(sender: object, proc_name: str, **kwargs: object) -> None:
    """A ``qcluster`` worker that starts queues a heartbeat: ``/healthz`` turns healthy
    seconds after a cluster starts, through the broker and a worker like every task, not
    at its first schedule (django-q2 runs schedules 30 s after the cluster starts)."""
    async_task("ordersync.tasks.heartbeat", task_name=f"heartbeat of {proc_name}")
