"""Jobs partners queue through the API, and the worker hook that records their outcome."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_q.models import Task

from shops.jobs import request_job
from shops.models import Shop
from trades.api.models import Job

HOOK = "trades.api.jobs.record_job_outcome"
MAX_ERROR = 2000


@transaction.atomic
def queue_job(shop: Shop, kind: str, params: dict | None = None) -> Job:
    """Queue a job of ``kind`` for ``shop`` (with ``params``, a re-pull's) and record it;
    return the record.

    One transaction: a job the shop's caps refuse (``OverCap``, ``TooSoon``) leaves no record.
    """
    args = (params,) if params else ()
    task_id = request_job(shop, kind, *args, hook=HOOK)
    return Job.objects.create(
        tenant_id=shop.tenant_id, shop=shop, kind=kind, task_id=task_id, params=params or {}
    )


def record_job_outcome(task: Task) -> None:
    """django-q2 result hook: the job's task ended (each attempt calls it; the last one wins)."""
    Job.objects.filter(task_id=task.id).update(
        state=Job.State.SUCCEEDED if task.success else Job.State.FAILED,
        started_at=task.started,
        finished_at=task.stopped or timezone.now(),
        error="" if task.success else str(task.result or "")[:MAX_ERROR],
        outcome=task.result if task.success and isinstance(task.result, dict) else {},
    )


def refresh(job: Job) -> Job:
    """``job`` with the outcome of its task if the hook missed it.

    With a Redis broker a quick task can end before the request that queued it has committed
    its job record; the hook then finds no record, but the task's result is kept.
    """
    if job.state == Job.State.QUEUED and job.task_id:
        task = Task.objects.filter(id=job.task_id).first()
        if task is not None:
            record_job_outcome(task)
            job.refresh_from_db()
    return job
