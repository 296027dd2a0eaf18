"""Scheduler scale: many sandbox sellers synced on a fixed cadence by one real ``qcluster``.

Each shop gets the product's own django-q2 schedule (``shops.schedules.sync_schedules``) at a
fixed interval; one ``manage.py qcluster`` (``Q_WORKERS`` workers, the ORM broker) runs them
for a few cadence cycles. While it does, every trades cursor is sampled every few seconds:
cursor lag = platform now − cursor, which includes the configured visibility lag
(``SYNC_LAG_SECONDS``) by design. Database load comes from ``pg_stat_database`` deltas.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psutil
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from shops import schedules
from shops.models import Checkpoint, Shop, SyncRun
from tools.bench.sandbox import ROOT, SandboxProcess
from tools.bench.world import BenchWorld

ACTIVE_MARKET = {"trades_per_minute": 6, "changes_per_minute": 12, "refunds_per_minute": 2}
PG_COUNTERS = (
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "blks_read",
    "blks_hit",
)
SAMPLE_SECONDS = 5
CLUSTER_LOG = Path(tempfile.gettempdir()) / "ordersync-bench-qcluster.log"
SCHEDULER_TICK = 30  # django-q2 looks at its schedules every 30 s


def measure_scheduler(
    shops: int, cadence_minutes: int, cycles: int, active: int, workers: int = 2, log=print
) -> dict:
    """Sync ``shops`` shops (``active`` of them with a live market) for ``cycles`` cycles."""
    with SandboxProcess(seed=21) as sandbox:
        world = BenchWorld(sandbox)
        try:
            log(f"scheduler: creating {shops:,} sandbox sellers and shops …")
            made = [_shop(world, n, cadence_minutes) for n in range(shops)]
            for shop in made[:active]:
                sandbox.control("market", {"nick": shop.seller_nick, **ACTIVE_MARKET})
            return _run(made, active, cadence_minutes, cycles, workers, log)
        finally:
            world.remove()  # with the shops' schedules


def _shop(world: BenchWorld, n: int, cadence_minutes: int) -> Shop:
    shop = world.shop(f"s{n:05d}")
    shop.interval_mode = Shop.IntervalMode.FIXED
    shop.interval_minutes = cadence_minutes
    shop.save(update_fields=["interval_mode", "interval_minutes"])
    # Start the incremental cursors at the present, as a finished backfill would leave them.
    start = timezone.now() - timedelta(seconds=settings.SYNC_LAG_SECONDS)
    Checkpoint.objects.filter(shop=shop, stream__in=["trades", "refunds"]).update(cursor=start)
    schedules.sync_schedules(shop)
    # Only the sync cadence is measured; a daily reconcile must not fall into the run.
    Schedule.objects.filter(name=schedules.reconcile_name(shop)).delete()
    return shop


def _run(shops, active, cadence_minutes, cycles, workers, log) -> dict:
    ids = [s.pk for s in shops]
    idle_ids = ids[active:]
    measured = cycles * cadence_minutes * 60
    log(
        f"scheduler: one qcluster ({workers} workers), {len(ids):,} shops every "
        f"{cadence_minutes} min, {cycles} cycles (~{(measured + 2 * SCHEDULER_TICK) / 60:.0f} min)"
    )
    cluster = _start_cluster(workers)
    try:
        started = timezone.now()
        steady_at = None
        lags: list[float] = []
        pg_before = cpu_before = None
        deadline = time.monotonic() + SCHEDULER_TICK + measured + 5
        while time.monotonic() < deadline:
            time.sleep(SAMPLE_SECONDS)
            if cluster.poll() is not None:
                raise RuntimeError(
                    f"the qcluster exited during the benchmark:\n{CLUSTER_LOG.read_text()[-3000:]}"
                )
            if steady_at is None and _all_ran_once(ids, started):
                steady_at = timezone.now()
                pg_before, cpu_before = _pg_counters(), _cpu_seconds(cluster.pid)
                log(f"scheduler: every shop ran once after {(steady_at - started).seconds}s")
            if steady_at is not None:
                lags.extend(_cursor_lags(ids))
        ended = timezone.now()
        cpu = _cpu_seconds(cluster.pid) - cpu_before if cpu_before is not None else None
        pg_after = _pg_counters()
    finally:
        _stop_cluster(cluster)
    if steady_at is None:
        raise RuntimeError("not every shop was synced once: the cluster did not keep up")
    steady_seconds = (ended - steady_at).total_seconds()
    return {
        "shops": len(ids),
        "active_shops": active,
        "active_market_per_minute": ACTIVE_MARKET,
        "cadence_minutes": cadence_minutes,
        "cycles": cycles,
        "workers": workers,
        "sync_lag_seconds": settings.SYNC_LAG_SECONDS,
        "first_cycle_seconds": round((steady_at - started).total_seconds()),
        "steady_seconds": round(steady_seconds),
        "cursor_lag_seconds": _percentiles(lags),
        **_run_figures(ids, idle_ids, started),
        "cluster_cpu_percent": round(100 * cpu / steady_seconds, 1) if cpu is not None else None,
        "database": _rates(pg_before, pg_after),
    }


def _start_cluster(workers: int) -> subprocess.Popen:
    params = connection.get_connection_params()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=(
            f"postgresql://{params['user']}@/{params['dbname']}"
            f"?host={params.get('host') or '127.0.0.1'}&port={params.get('port') or 5432}"
        ),
        Q_WORKERS=str(workers),
        LOG_LEVEL="WARNING",
        # as in production: DEBUG off (it keeps every query's text), the same keys as ours
        DEBUG="false",
        # the development key is refused with DEBUG off; the cluster alone signs its tasks
        SECRET_KEY=settings.SECRET_KEY.replace("insecure-dev-key", "bench-scheduler-key"),
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
    )
    if params.get("password"):
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(
            f"{params['user']}@", f"{params['user']}:{params['password']}@"
        )
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=CLUSTER_LOG.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop_cluster(cluster: subprocess.Popen) -> None:
    if cluster.poll() is not None:
        return
    os.killpg(cluster.pid, signal.SIGTERM)
    try:
        cluster.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(timeout=15)


def _all_ran_once(ids: list[int], since) -> bool:
    done = (
        SyncRun.objects.filter(shop_id__in=ids, stream="trades", started_at__gte=since)
        .exclude(outcome=SyncRun.Outcome.RUNNING)
        .values("shop_id")
        .distinct()
        .count()
    )
    return done == len(ids)


def _cursor_lags(ids: list[int]) -> list[float]:
    now = timezone.now()
    cursors = Checkpoint.objects.filter(shop_id__in=ids, stream="trades").values_list(
        "cursor", flat=True
    )
    return [(now - cursor).total_seconds() for cursor in cursors if cursor]


def _run_figures(ids: list[int], idle_ids: list[int], since) -> dict:
    runs = SyncRun.objects.filter(shop_id__in=ids, kind="incremental", started_at__gte=since)
    outcomes = {outcome: runs.filter(outcome=outcome).count() for outcome in SyncRun.Outcome.values}
    idle = runs.filter(shop_id__in=idle_ids, outcome=SyncRun.Outcome.SUCCEEDED)
    idle_calls = list(idle.values_list("api_calls", flat=True))
    per_stream_run = sum(idle_calls) / len(idle_calls) if idle_calls else None
    durations = [
        (run.finished_at - run.started_at).total_seconds() * 1000
        for run in runs.filter(outcome=SyncRun.Outcome.SUCCEEDED).only("started_at", "finished_at")
        if run.finished_at
    ]
    return {
        "runs": outcomes,
        "api_calls_per_idle_stream_run": _round(per_stream_run, 3),
        # a scheduled sync task runs both streams (trades and refunds)
        "api_calls_per_idle_shop_run": _round(per_stream_run and per_stream_run * 2, 3),
        "run_ms": _percentiles(durations),
    }


def _pg_counters() -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = "
            "current_database()"
        )
        row = cursor.fetchone()
    return dict(zip(PG_COUNTERS, row, strict=True)) | {"at": time.monotonic()}


def _rates(before: dict | None, after: dict) -> dict:
    if before is None:
        return {}
    seconds = after["at"] - before["at"]
    rates = {
        f"{name}_per_second": round((after[name] - before[name]) / seconds, 1)
        for name in PG_COUNTERS
    }
    rates["note"] = "whole database, pg_stat_database deltas over the steady part"
    return rates


def _cpu_seconds(pid: int) -> float:
    try:
        parent = psutil.Process(pid)
        total = 0.0
        for proc in [parent, *parent.children(recursive=True)]:
            times = proc.cpu_times()
            total += times.user + times.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max": round(ordered[-1], 1),
        "samples": len(ordered),
    }


def _round(value, digits):
    return None if value is None else round(value, digits)
