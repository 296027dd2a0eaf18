"""django-q2 task entry points: thin, by primary key, calling the engine's verbs."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from django.conf import settings
from django.utils import timezone

from shops import schedules
from shops.actions import queue_job
from shops.jobs import job_finished
from shops.models import Checkpoint, Shop
from trades.jdp import runner
from trades.jdp.enrol import filled_by_push
from trades.logistics.tracking import shops_to_track, track_shop
from trades.retention.run import run_retention
from trades.sync import locks
from trades.sync.backfill import backfill_shop
from trades.sync.incremental import sync_shop
from trades.sync.reconcile import reconcile_shop
from trades.sync.refetch import refetch_shop

P = ParamSpec("P")
R = TypeVar("R")
ShopTask = Callable[Concatenate[int, P], R]  # a task taking the shop's primary key first


def _active(shop_id: int) -> Shop | None:
    shop = Shop.objects.select_related("app", "tenant").get(pk=shop_id)
    return shop if shop.status == Shop.Status.ACTIVE else None


def _backing_off(shop: Shop, stream: str) -> bool:
    return Checkpoint.objects.filter(
        shop=shop, stream=stream, next_run_at__gt=timezone.now()
    ).exists()


def _ends_requested(kind: str) -> Callable[[ShopTask[P, R]], ShopTask[P, R]]:
    """Decorate a task: when it ends, however, a job of its kind requested for the shop
    through the API is no longer queued or running (shops/jobs.py)."""

    def decorate(task: ShopTask[P, R]) -> ShopTask[P, R]:
        def run(shop_id: int, /, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return task(shop_id, *args, **kwargs)
            finally:
                job_finished(shop_id, kind)

        functools.update_wrapper(run, task)
        return run

    return decorate


@_ends_requested("sync")
def sync_shop_task(shop_id: int, stream: str | None = None) -> list[str]:
    """Scheduled sync of a shop's trades and refunds; streams that are backing off wait.

    It also re-queues the shop's backfill or reconcile when one failed and is due again.
    """
    shop = _active(shop_id)
    if shop is None:
        return []
    outcomes = []
    # one time budget for the task: both streams end well inside Q_TIMEOUT together
    stop_at = time.monotonic() + settings.SYNC_RUN_TIME_LIMIT
    for name in [stream] if stream else ["trades", "refunds"]:
        if not _backing_off(shop, name):
            outcomes.append(f"{name}: {sync_shop(shop, name, stop_at=stop_at).outcome}")
        shop.refresh_from_db(fields=["status", "degraded"])
        if shop.status != Shop.Status.ACTIVE:
            return outcomes  # e.g. the session turned out invalid: the shop waits for re-auth
    return outcomes + [f"{kind}: queued" for kind in resume_unfinished(shop)]


def resume_unfinished(shop: Shop) -> list[str]:
    """Queue the backfill left unfinished, or the reconcile that failed, once it is due.

    Due: not backing off after its failure, and not running (its run lock is free). The job
    is marked not due for ``Q_RETRY`` seconds once queued, so a job waiting in the queue is
    not queued again by the next sync.
    """
    queued = []
    for checkpoint in Checkpoint.objects.filter(
        shop=shop, stream__in=[Checkpoint.Stream.BACKFILL, Checkpoint.Stream.RECONCILE]
    ):
        if not _unfinished(checkpoint) or _backing_off(shop, checkpoint.stream):
            continue
        if locks.is_locked(checkpoint.pk):
            continue
        Checkpoint.objects.filter(pk=checkpoint.pk).update(
            next_run_at=timezone.now() + timedelta(seconds=settings.Q_RETRY)
        )
        queue_job(shop, checkpoint.stream)
        queued.append(checkpoint.stream)
    return queued


def _unfinished(checkpoint: Checkpoint) -> bool:
    if checkpoint.stream == Checkpoint.Stream.BACKFILL:
        return bool(checkpoint.progress.get("until")) and not checkpoint.progress.get("finished_at")
    # a reconcile that failed, or that ran out of time with days still due
    return checkpoint.consecutive_failures > 0 or checkpoint.progress.get("days_left", 0) > 0


@_ends_requested("backfill")
def backfill_shop_task(shop_id: int, days: int | None = None) -> str:
    shop = _active(shop_id)
    if shop is None:
        return "shop not active"
    if days is None and filled_by_push(shop):
        return "filled by the JDP push"  # the onboarding's backfill; an operator's has days
    return backfill_shop(shop, days, time_limit=settings.SYNC_RUN_TIME_LIMIT).outcome


@_ends_requested("reconcile")
def reconcile_shop_task(shop_id: int, day: str | None = None) -> list[int]:
    shop = _active(shop_id)
    if shop is None:
        return []
    day_ = date.fromisoformat(day) if day else None
    reports = reconcile_shop(shop, day_, time_limit=settings.SYNC_RUN_TIME_LIMIT)
    # the daily schedule follows a RECONCILE_HOUR changed since it was made
    schedules.sync_schedules(Shop.objects.get(pk=shop.pk))
    return [report.missing_found for report in reports]


@_ends_requested("refetch")
def refetch_shop_task(shop_id: int, params: dict[str, Any]) -> dict[str, Any]:
    """Re-pull the trades or the window in ``params`` (``shops.refetch.refetch_params``);
    return the outcome, which the job's result hook keeps."""
    shop = _active(shop_id)
    if shop is None:
        return {"error": "shop not active"}
    if "tids" in params:
        return refetch_shop(shop, tids=params["tids"]).as_dict()
    start = datetime.fromisoformat(params["modified_after"])
    end = datetime.fromisoformat(params["modified_before"])
    return refetch_shop(shop, modified_after=start, modified_before=end).as_dict()


def jdp_consume_task() -> int:
    """The scheduled JDP pass (beside or instead of ``jdp_consume``): statuses, then one pass
    over every live shop. Returns the rows read."""
    runner.refresh_all_statuses()
    connections = runner.Connections()
    try:
        return runner.consume_once(connections)
    finally:
        connections.close()


def track_parcels_task() -> str:
    """Scheduled every ten minutes: the active shops' parcels (trades/logistics/), the shop
    with the most overdue parcel first, until the run's time is up (the rest next run)."""
    stop_at = time.monotonic() + settings.SYNC_RUN_TIME_LIMIT
    read = shops = 0
    for shop in shops_to_track():
        if time.monotonic() > stop_at:
            break
        read += track_shop(shop).read
        shops += 1
    return f"{read} traces read in {shops} shops"


def retention_task() -> dict[str, int]:
    """Scheduled daily: prune what is past its age, erase buyer data that is due."""
    removed: dict[str, int] = run_retention().removed
    return removed
