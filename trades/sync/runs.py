"""Sync-run bookkeeping: counters, the outcome, and what a failure does to the shop."""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db.models import Count, F, Min
from django.utils import timezone

from ordersync.shown import iso, shown
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import RateLimited, SessionInvalid, TradeServiceRejected, Transient
from shops import actions
from shops.models import Checkpoint, Shop, SyncRun
from trades.models import Trade
from trades.sync.poison import TradesNotFound, count_not_found
from trades.sync.windows import narrower
from trades.sync.write import WriteResult

log = logging.getLogger("ordersync.sync")
RATE_SPANS = (timedelta(minutes=10), timedelta(hours=1))  # see changed_per_hour
PAUSE_KEY, PAUSE_SECONDS = "sync:pause-backfills", 300  # see request_pause

BACKOFF_CAP = timedelta(hours=1)
REJECTION_PAUSE = timedelta(minutes=3)  # what isv.trade-service-rejection asks for
WORKER_LOST = "WorkerLost"
WIDTH_KEYS = ("window_seconds", "slice_seconds", "refund_slice_seconds")


@dataclass
class Counters:
    api_calls: int = 0
    pages: int = 0
    trades_seen: int = 0
    trades_written: int = 0
    set_aside: list[dict[str, Any]] = field(
        default_factory=list
    )  # poison records left to reconcile
    late_arrivals: int = 0  # changes found behind a window end already passed
    notes: list[str] = field(default_factory=list)  # what the run did out of the ordinary

    def count_written(self, result: WriteResult, pages: int = 1) -> None:
        """A page (or, with ``pages=0``, a batch of details) went through the write path."""
        self.pages += pages
        self.trades_seen += result.seen
        self.trades_written += result.written


class CallMeter:
    """The API calls a run spends: what its client counted since the run began (a client
    may serve several runs)."""

    def __init__(self, client: TopClient) -> None:
        self.client, self.before = client, client.calls

    def settle(self, counters: Counters) -> int:
        """Put the calls so far into ``counters``; return them."""
        counters.api_calls = self.client.calls - self.before
        return counters.api_calls


def worker() -> str:
    """This process, as a run names it: read when the run starts, not at import (a cluster
    imports the engine before it forks its workers)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def start_run(shop: Shop, stream: str, kind: str) -> SyncRun:
    return SyncRun.objects.create(shop=shop, stream=stream, kind=kind, worker=worker())


def skip_run(shop: Shop, stream: str, kind: str) -> SyncRun:
    """Record a run that left at once because another run holds the stream."""
    run = start_run(shop, stream, kind)
    log.info("shop %s %s: another run holds the lock, leaving", shop.pk, stream)
    return finish_run(run, Counters(), SyncRun.Outcome.SKIPPED)


def close_lost_runs(shop: Shop, stream: str, kind: str) -> int:
    """Mark runs left "running" by a dead worker as failed; return how many there were.

    Call it only while holding the stream's run lock: a run holds that lock for as long as
    it runs, so a run still "running" when we hold it has lost its worker.
    """
    return SyncRun.objects.filter(
        shop=shop, stream=stream, kind=kind, outcome=SyncRun.Outcome.RUNNING
    ).update(
        outcome=SyncRun.Outcome.FAILED,
        finished_at=timezone.now(),
        error_class=WORKER_LOST,
        error_message="the worker running this stopped before the run finished",
    )


def finish_run(
    run: SyncRun, counters: Counters, outcome: str, error: Exception | None = None
) -> SyncRun:
    run.outcome = outcome
    run.finished_at = timezone.now()
    for name, value in asdict(counters).items():
        setattr(run, name, value)
    if error is not None:
        run.error_class = type(error).__name__
        run.error_message = str(error)[:2000]
    run.save()
    log.info(
        "sync_run %s",
        json.dumps(
            {
                "run": run.pk,
                "shop": run.shop_id,
                "stream": run.stream,
                "kind": run.kind,
                "outcome": outcome,
                "window_start": iso(run.window_start),
                "window_end": iso(run.window_end),
                "seconds": round((run.finished_at - run.started_at).total_seconds(), 3),
                **asdict(counters),
                "set_aside": [entry["key"] for entry in counters.set_aside],
                "error": run.error_class or None,
            }
        ),
    )
    return run


def backoff(failures: int) -> timedelta:
    # the exponent is capped too: past ~40 failures in a row the timedelta would overflow
    return min(BACKOFF_CAP, timedelta(minutes=2 ** min(max(0, failures - 1), 10)))


class WorkerLost(Exception):
    """The worker running a window died (killed, or stopped by ``Q_TIMEOUT``)."""


def record_failure(shop: Shop, stream: str, error: Exception) -> None:
    """Count the failure on the checkpoint (the cursor stays) and react to what it was."""
    checkpoint = Checkpoint.objects.get(shop=shop, stream=stream)
    failures = checkpoint.consecutive_failures + 1
    wait = backoff(failures)
    progress = dict(checkpoint.progress)
    if _narrows(error, failures):
        progress = narrowed(progress, incremental=stream in ("trades", "refunds"))
    if isinstance(error, TradeServiceRejected):
        wait = max(wait, REJECTION_PAUSE)
    if isinstance(error, RateLimited):
        wait = max(wait, timedelta(seconds=error.ban_seconds))
    if isinstance(error, WorkerLost):
        wait = timedelta(0)  # found by the run that takes over: it goes on at once
    if isinstance(error, TradesNotFound):
        progress = count_not_found(progress, error.tids)  # set aside after a few windows
    Checkpoint.objects.filter(pk=checkpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1,
        last_error=f"{type(error).__name__}: {error}"[:2000],
        next_run_at=timezone.now() + wait if wait else None,
        progress=progress,
    )
    if isinstance(error, SessionInvalid):
        actions.mark_needs_reauth(shop, f"{type(error).__name__}: {error}")
    evaluate_health(shop)


def _narrows(error: Exception, failures: int) -> bool:
    """Whether the next window (or slice) should be narrower after this failure.

    Transient errors, rejections and dead workers often mean the window is too heavy for
    the platform or for the time a run has: read less at a time. Any other error narrows
    too once it repeats, so a window that keeps failing shrinks around what fails. A bad
    session or a ban says nothing about the window.
    """
    if isinstance(error, SessionInvalid | RateLimited):
        return False
    if isinstance(error, TradeServiceRejected | Transient | WorkerLost):
        return True
    return failures >= 2


def narrowed(progress: dict[str, Any], *, incremental: bool = False) -> dict[str, Any]:
    """``progress`` with every stored width halved (never under a minute)."""
    progress = dict(progress)
    if incremental and "window_seconds" not in progress:
        progress["window_seconds"] = settings.SYNC_MAX_WINDOW_SECONDS
    for key in WIDTH_KEYS:
        if key in progress:
            width = timedelta(seconds=progress[key])
            progress[key] = int(narrower(width).total_seconds())
    return progress


# The streams whose sustained failure degrades a shop (the incremental ones).
DEGRADING_STREAMS = ("trades", "refunds")


@dataclass(frozen=True)
class FailureSpell:
    """A stream's failed incremental runs since its last success."""

    stream: str
    first: datetime
    last: datetime
    runs: int
    error: str

    @property
    def minutes(self) -> float:
        return (self.last - self.first).total_seconds() / 60

    def sustained(self) -> bool:
        """Failing for ``SYNC_DEGRADE_AFTER_MINUTES`` or longer, over two runs or more: a
        blip (a failed run or two in a 502 burst, then a success) never is."""
        return self.runs >= 2 and self.minutes >= settings.SYNC_DEGRADE_AFTER_MINUTES

    def reason(self) -> str:
        return (
            f"{self.stream}: all {self.runs} runs failed over {self.minutes:.0f} min since "
            f"{shown(self.first)}; last: {self.error}"
        )


def failure_spell(shop: Shop, stream: str) -> FailureSpell | None:
    """The stream's failures since its last successful run; None while it succeeds.

    Read through ``syncrun_shop_recent_idx``.
    """
    runs = SyncRun.objects.filter(shop=shop, stream=stream, kind=SyncRun.Kind.INCREMENTAL)
    failed = runs.filter(outcome=SyncRun.Outcome.FAILED)
    last_ok = runs.filter(outcome=SyncRun.Outcome.SUCCEEDED).order_by("-started_at").first()
    if last_ok is not None:
        failed = failed.filter(started_at__gt=last_ok.started_at)
    latest = failed.order_by("-started_at").first()
    if latest is None:
        return None
    spell = failed.aggregate(first=Min("started_at"), runs=Count("id"))
    return FailureSpell(
        stream=stream,
        first=spell["first"],
        last=latest.finished_at or latest.started_at,
        runs=spell["runs"],
        error=f"{latest.error_class}: {latest.error_message}"[:200],
    )


def evaluate_health(shop: Shop) -> None:
    """Degrade a shop while one of its streams keeps failing; restore it once none does."""
    spells = [spell for spell in map(partial(failure_spell, shop), DEGRADING_STREAMS) if spell]
    sustained = [spell for spell in spells if spell.sustained()]
    if sustained:
        actions.set_degraded(shop, True, "; ".join(spell.reason() for spell in sustained))
    elif degraded(shop):
        actions.set_degraded(shop, False)


def changed_per_hour(shop: Shop, until: datetime) -> float:
    """How many of the shop's trades change per hour, up to ``until`` (platform time).

    Counted in our table, whoever wrote them (the backfill, a sync run, TMC): what the runs
    wrote is no measure, since after a backfill, or with TMC on, a busy shop's runs find
    almost everything stored already. The higher rate of the last ten minutes and of the last
    hour: a shop that gets busy is polled faster within minutes; one that calms down is
    slowed only after a quiet hour."""
    return max(
        _changed(shop, until - span, until) * timedelta(hours=1) / span for span in RATE_SPANS
    )


def _changed(shop: Shop, since: datetime, until: datetime) -> int:
    return Trade.objects.filter(
        tenant_id=shop.tenant_id,  # trade_tenant_modified_idx
        shop=shop,
        modified__gt=since,
        modified__lte=until,
    ).count()


def request_pause(pause: bool) -> None:
    """Ask every worker's backfill to stop after the slice in hand (``True``), or no longer.

    A backfill run reads slices for up to ``SYNC_RUN_TIME_LIMIT``, and a worker stopping
    gracefully finishes its task first: asked to pause, the run ends within a slice, as if
    its time were up, and the next run resumes it. Used by ``manage.py demo`` on Ctrl-C."""
    if pause:
        caches["shared"].set(PAUSE_KEY, True, timeout=PAUSE_SECONDS)
    else:
        caches["shared"].delete(PAUSE_KEY)


def pause_requested() -> bool:
    return bool(caches["shared"].get(PAUSE_KEY))


def backfilling(shop: Shop) -> bool:
    progress = Checkpoint.objects.get(shop=shop, stream=Checkpoint.Stream.BACKFILL).progress
    return bool(progress.get("until")) and not progress.get("finished_at")


def follow_volume(shop: Shop, until: datetime | None) -> None:
    """In auto mode, set the shop's interval from its measured volume. Not while its backfill
    runs: the recent trades come last, so until it ends the volume is unknown, not zero."""
    if shop.interval_mode != Shop.IntervalMode.AUTO or backfilling(shop):
        return
    actions.set_interval(shop, auto_interval(changed_per_hour(shop, until or timezone.now())))


def auto_interval(rate_per_hour: float) -> int:
    """Minutes between runs: ~50 changes a run (about one page), 1 to 10 minutes for a shop
    that sells, 30 for an idle one."""
    if rate_per_hour <= 0:
        return 30
    return max(1, min(10, round(3000 / rate_per_hour)))


def record_success(shop: Shop, until: datetime | None = None, stream: str = "trades") -> None:
    """After a successful run of ``stream`` whose windows reached ``until``: health, then
    cadence (from the trades' volume, so after a trades run).

    A success never degrades a shop (a failure that makes a spell sustained degrades it when
    it is recorded), so only a degraded shop's health is looked at again."""
    if degraded(shop):
        evaluate_health(shop)
    if stream == "trades":
        follow_volume(shop, until)


def degraded(shop: Shop) -> bool:
    """Whether the shop is degraded, as the row says now (``shop`` may be older)."""
    return shop.degraded or Shop.objects.filter(pk=shop.pk, degraded=True).exists()
