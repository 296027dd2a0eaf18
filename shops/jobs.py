"""Asking the workers to run a job for a shop now."""

from __future__ import annotations

from django_q.tasks import async_task

from shops.models import Shop

# The task entry points live with the sync engine; queued by name so shops does not import
# trades (imports point trades -> shops).
JOB_TASKS = {
    "sync": "trades.tasks.sync_shop_task",
    "backfill": "trades.tasks.backfill_shop_task",
    "reconcile": "trades.tasks.reconcile_shop_task",
}


def request_job(shop: Shop, kind: str, **q_options: str) -> str:
    """Queue job ``kind`` (sync, backfill, reconcile) for ``shop``; return the task id.

    ``q_options`` go to django-q2 (``hook``, ``group``).

    A duplicate is harmless: the job takes the shop's stream lock and leaves if it is held.
    """
    try:
        task = JOB_TASKS[kind]
    except KeyError:
        raise ValueError(
            f"unknown job kind {kind!r}; expected one of {sorted(JOB_TASKS)}"
        ) from None
    return async_task(task, shop.pk, task_name=f"{kind} shop {shop.pk}", **q_options)
