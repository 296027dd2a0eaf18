"""Jobs partners queue through the API, and the worker hook that records their outcome."""

from __future__ import annotations

from django.utils import timezone

from shops.jobs import request_job
from shops.models import Shop
from trades.api_models import Job

GROUP_PREFIX = "api-job:"
MAX_ERROR = 2000


def queue_job(shop: Shop, kind: str) -> Job:
    """Record a job of ``kind`` for ``shop`` and queue it; the task reports back by group."""
    job = Job.objects.create(tenant_id=shop.tenant_id, shop=shop, kind=kind)
    # queued after the row is committed, so the hook always finds it
    job.task_id = request_job(
        shop, kind, hook="trades.api.jobs.job_finished", group=f"{GROUP_PREFIX}{job.pk}"
    )
    job.save(update_fields=["task_id"])
    return job


def job_finished(task) -> None:
    """django-q2 result hook: the task of a job ended (each attempt calls it; last one wins)."""
    group = task.group or ""
    if not group.startswith(GROUP_PREFIX):
        return
    state = Job.State.SUCCEEDED if task.success else Job.State.FAILED
    error = "" if task.success else str(task.result or "")[:MAX_ERROR]
    Job.objects.filter(pk=int(group.removeprefix(GROUP_PREFIX))).update(
        state=state,
        task_id=task.id,
        started_at=task.started,
        finished_at=task.stopped or timezone.now(),
        error=error,
    )
