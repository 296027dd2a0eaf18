"""django-q2 task entry points: thin, by primary key, calling the engine's verbs."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from django.conf import settings
from django.utils import timezone

from ordersync.taobao.client import TopClient
from shops.actions import queue_job
from shops.jobs import job_finished
from shops.models import Checkpoint, Shop, SyncRun
from shops.schedules import due_now
from shops.top import client_for_shop
from trades.items.streams import ITEM_STREAMS
from trades.jdp import runner
from trades.jdp.enrol import filled_by_push
from trades.logistics.tracking import shops_to_track, track_shop
from trades.replenish.suggest import refresh_replenishment
from trades.retention.run import run_retention
from trades.sync import locks
from trades.sync.backfill import backfill_shop
from trades.sync.incremental import sync_shop
from trades.sync.reconcile import reconcile_shop
from trades.sync.refetch import refetch_shop

log = logging.getLogger("ordersync.sync")
P = ParamSpec("P")
R = TypeVar("R")
ShopTask = Callable[Concatenate[int, P], R]  # a task taking the shop's primary key first


def _active(shop_id: int) -> Shop | None:
    shop = Shop.objects.select_related("app", "tenant").get(pk=shop_id)
    return shop if shop.status == Shop.Status.ACTIVE else None


def _backing_off(shop: Shop, stream: str) -> bool:
    return bool(_backing_off_of(shop, [stream]))


def _backing_off_of(shop: Shop, streams: list[str]) -> set[str]:
    """Those of ``streams`` that wait after a failure (one query for them all)."""
    return set(
        Checkpoint.objects.filter(
            shop=shop, stream__in=streams, next_run_at__gt=timezone.now()
        ).values_list("stream", flat=True)
    )


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
    """A requested sync of a shop's trades and refunds (or of ``stream``); see
    :func:`sync_streams`."""
    # one time budget for the task: both streams end well inside Q_TIMEOUT together
    return sync_streams(shop_id, time.monotonic() + settings.SYNC_RUN_TIME_LIMIT, stream)


def sync_shops_task(shop_ids: list[int]) -> dict[str, int]:
    """Scheduled (``shops.schedules``): sync a batch of shops one after the other within one
    run's time, each on its own (a shop that fails leaves the others to go on); the shops not
    started in time go back to the dispatcher, due now. The shops of one app share a client
    (its connections to the gateway, its platform clock). Returns how many of each."""
    stop_at = time.monotonic() + settings.SYNC_RUN_TIME_LIMIT
    done = {"synced": 0, "failed": 0, "given back": 0}
    clients: dict[int, TopClient] = {}
    for index, shop_id in enumerate(shop_ids):
        if index and time.monotonic() > stop_at:
            due_now(shop_ids[index:])
            done["given back"] = len(shop_ids) - index
            break
        try:
            sync_streams(shop_id, stop_at, clients=clients)
            done["synced"] += 1
        except Exception:
            log.exception("scheduled sync of shop %s failed", shop_id)
            done["failed"] += 1
    return done


def sync_streams(
    shop_id: int,
    stop_at: float,
    stream: str | None = None,
    clients: dict[int, TopClient] | None = None,
) -> list[str]:
    """Sync a shop's trades and refunds (or ``stream``) until ``stop_at``, each in its share of
    the time (:func:`_share`); streams that are backing off wait. Both streams use one client,
    taken from ``clients`` (by app) when it holds one for the shop's app, and left there.

    It also re-queues the shop's backfill or reconcile when one failed and is due again.
    """
    shop = _active(shop_id)
    if shop is None:
        return []
    clients = {} if clients is None else clients
    client = clients[shop.app_id] = client_for_shop(shop, clients.get(shop.app_id))
    outcomes = []
    streams = [stream] if stream else ["trades", "refunds"]
    fair = max(0.0, stop_at - time.monotonic()) / len(streams)
    waiting = _backing_off_of(shop, streams)
    for index, name in enumerate(streams):
        # a back-off read before the trades run may have ended during it: read it again
        if name in waiting and (index == 0 or _backing_off(shop, name)):
            continue
        until = _share(stop_at, len(streams) - index, fair)
        run = sync_shop(shop, name, client=client, stop_at=until)
        outcomes.append(f"{name}: {run.outcome}")
        if run.outcome == SyncRun.Outcome.SUCCEEDED:
            continue  # the run kept ``shop`` as the row is (its degraded mode, its status)
        shop.refresh_from_db(fields=["status", "degraded"])
        if shop.status != Shop.Status.ACTIVE:
            return outcomes  # e.g. the session turned out invalid: the shop waits for re-auth
    return outcomes + [f"{kind}: queued" for kind in resume_unfinished(shop)]


def _share(stop_at: float, streams_left: int, fair: float) -> float:
    """When the next of ``streams_left`` streams stops starting windows: an equal part of the
    time left until ``stop_at``, and never less than ``fair`` (its part of the whole sync's),
    however long the streams before it ran. A refunds run left no time by the trades would
    read its first window only: no read-ahead of windows a measured lag holds back, no sweep,
    its fresh changes waiting for the next sync. A stream goes past its part by the window in
    hand (``SYNC_WINDOW_TIME_LIMIT``), so the two end about where one shared time did: within
    ``SYNC_RUN_TIME_LIMIT`` plus two windows, inside ``Q_TIMEOUT``."""
    now = time.monotonic()
    return now + max((stop_at - now) / streams_left, fair)


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


def items_sync_task() -> dict[str, list[str]]:
    """The scheduled item pass: each active shop's item streams that are not backing off,
    within one run's time (the next pass goes on with the shops left)."""
    stop_at = time.monotonic() + settings.SYNC_RUN_TIME_LIMIT
    done: dict[str, list[str]] = {}
    for shop in Shop.objects.filter(status=Shop.Status.ACTIVE).select_related("app", "tenant"):
        if time.monotonic() > stop_at:
            break
        streams = [s.name for s in ITEM_STREAMS if not _backing_off(shop, s.name)]
        runs = [sync_shop(shop, name, stop_at=stop_at) for name in streams]
        done[shop.seller_nick] = [f"{run.stream}: {run.outcome}" for run in runs]
    return done


def replenishment_task() -> dict[str, int]:
    """The daily replenishment pass: each active shop's items, then its suggestions (one
    shop failing leaves the others to go on). Returns the SKUs covered per shop."""
    done = {}
    for shop in Shop.objects.filter(status=Shop.Status.ACTIVE).select_related("app", "tenant"):
        try:
            done[shop.seller_nick] = refresh_replenishment(shop)
        except Exception:
            log.exception("replenishment of shop %s failed", shop.pk)
    return done


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
