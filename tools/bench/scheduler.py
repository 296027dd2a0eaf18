"""Scheduler scale: many sandbox sellers synced on a fixed cadence by one real ``qcluster``.

Each shop is due every ``cadence`` minutes, the first due times spread over one interval (as
shops onboarded over time are); the product's one dispatcher (``shops.schedules``, run every
minute by django-q2) queues the due ones, and one ``manage.py qcluster`` (``--workers``, the
ORM broker) runs them for a few cadence cycles. While it does, every trades cursor is sampled
every few seconds: cursor lag = platform now − cursor, which includes the configured
visibility lag (``SYNC_LAG_SECONDS``) by design. Beside it: the CPU of the qcluster, of the
PostgreSQL backends serving this database and of the sandbox (the platform), the broker's
queue depth over time, and ``pg_stat_database`` deltas.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import psutil
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ, Schedule

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
TIMELINE_SECONDS = 30
CLUSTER_LOG = Path(tempfile.gettempdir()) / "ordersync-bench-qcluster.log"
SCHEDULER_TICK = 30  # django-q2 looks at its schedules every 30 s
# the schedule migration shops 0010 makes; a flushed test database may have lost it
DISPATCH = {"func": "shops.tasks.dispatch_shops", "schedule_type": "I", "minutes": 1}
# a pass of the dispatcher as at ``now`` + {} minutes, printing what it queued
DISPATCH_AT = (
    "from datetime import timedelta; from django.utils import timezone; "
    "from shops.schedules import dispatch_due_shops; "
    "print(dispatch_due_shops(timezone.now() + timedelta(minutes={}))['sync'], 'syncs')"
)


def measure_scheduler(
    shops: int,
    cadence_minutes: int,
    cycles: int,
    active: int,
    workers: int = 2,
    log=print,
    *,
    driven: bool = False,
    sample_seconds: float | None = None,
) -> dict:
    """Sync ``shops`` shops (``active`` of them with a live market) for ``cycles`` cycles.

    ``driven``: the dispatcher is called here at the start of the first cycle and of the
    sampling instead of waiting for its once-a-minute schedule; ``sample_seconds``: the
    sampled window instead of the ``cycles`` cadence intervals (the tests' short run)."""
    with SandboxProcess(seed=21) as sandbox:
        world = BenchWorld(sandbox)
        try:
            log(f"scheduler: creating {shops:,} sandbox sellers and shops …")
            made = world.shops([f"s{n:05d}" for n in range(shops)])
            _on_cadence(made, cadence_minutes, driven)
            for shop in made[:active]:
                sandbox.control("market", {"nick": shop.seller_nick, **ACTIVE_MARKET})
            run = _Run(made, active, cadence_minutes, workers, sandbox.process.pid, driven)
            return run.measure(cycles, log, sample_seconds)
        finally:
            world.remove()  # with the shops and their due times


def _on_cadence(shops: list[Shop], cadence_minutes: int, driven: bool) -> None:
    """Fixed cadence, cursors at the present (as a finished backfill leaves them), first due
    times spread over one interval, and the dispatcher's schedule due now (one interval on
    when the run calls the dispatcher itself)."""
    now = timezone.now()
    step = timedelta(minutes=cadence_minutes) / len(shops)
    for n, shop in enumerate(shops):
        shop.interval_mode, shop.interval_minutes = Shop.IntervalMode.FIXED, cadence_minutes
        shop.next_sync_at = now + n * step
    Shop.objects.bulk_update(
        shops, ["interval_mode", "interval_minutes", "next_sync_at"], batch_size=1000
    )
    start = now - timedelta(seconds=settings.SYNC_LAG_SECONDS)
    Checkpoint.objects.filter(shop__in=shops, stream__in=["trades", "refunds"]).update(cursor=start)
    Schedule.objects.update_or_create(
        name="dispatch-shops",
        defaults={
            **DISPATCH,
            "repeats": -1,
            "next_run": now + timedelta(minutes=cadence_minutes) if driven else now,
        },
    )


class _Run:
    """One qcluster over the shops, sampled every few seconds."""

    def __init__(self, shops, active, cadence_minutes, workers, sandbox_pid, driven) -> None:
        self.ids = [s.pk for s in shops]
        self.idle_ids = self.ids[active:]
        self.active, self.cadence, self.workers = active, cadence_minutes, workers
        self.sandbox_pid = sandbox_pid
        self.lags: list[float] = []
        self.timeline: list[dict] = []
        self.driven = driven

    def measure(self, cycles: int, log, sample_seconds: float | None = None) -> dict:
        measured = sample_seconds or cycles * self.cadence * 60
        log(
            f"scheduler: one qcluster ({self.workers} workers), {len(self.ids):,} shops every "
            f"{self.cadence} min, {cycles} cycles (~{(measured + 2 * SCHEDULER_TICK) / 60:.0f}"
            " min after the first cycle)"
        )
        self.env = _cluster_env(self.workers)
        cluster = _start_cluster(self.env)
        try:
            self.started = timezone.now()
            self._dispatch(log, 0)
            steady = self._first_cycle(cluster, log)
            self._dispatch(log, 1)
            self._sample(cluster, measured)
            ended = timezone.now()
            cpu = {name: meter.seconds() for name, meter in self.meters.items()}
            pg_after = _pg_counters()
        finally:
            _stop_cluster(cluster)
        steady_seconds = (ended - steady).total_seconds()
        return {
            "shops": len(self.ids),
            "active_shops": self.active,
            "active_market_per_minute": ACTIVE_MARKET,
            "cadence_minutes": self.cadence,
            "cycles": cycles,
            "workers": self.workers,
            "dispatcher": "one task every minute, SELECT … FOR UPDATE SKIP LOCKED",
            "sync_lag_seconds": settings.SYNC_LAG_SECONDS,
            "lag_aim_seconds": self.cadence * 60 + settings.SYNC_LAG_SECONDS + 60,
            "first_cycle_seconds": round((steady - self.started).total_seconds()),
            "shops_run_in_first_cycle": self.ran_in_first_cycle,
            # the rate the cadence asks for against the rate the cluster ran them at
            "syncs_per_second_needed": round(len(self.ids) / (self.cadence * 60), 1),
            "syncs_per_second_done": _rate_done(self.ids, steady, steady_seconds),
            "steady_seconds": round(steady_seconds),
            "cursor_lag_seconds": _percentiles(self.lags),
            **_run_figures(self.ids, self.idle_ids, steady, self.cadence),
            "cpu_percent_of_one_core": {
                name: round(100 * seconds / steady_seconds, 1) for name, seconds in cpu.items()
            },
            "cluster_cpu_percent": round(100 * cpu["qcluster"] / steady_seconds, 1),
            "queue_depth": _percentiles([row["queue"] for row in self.timeline]),
            "timeline": self.timeline,
            "database": _rates(self.pg_before, pg_after),
        }

    def _dispatch(self, log, cycle: int) -> None:
        """A driven run's own pass of the dispatcher as it runs at the start of ``cycle``
        (0: now; 1: one interval on, run now instead of waited for), in a child with the
        cluster's settings: the cluster reads only the tasks its own key signed."""
        if not self.driven:
            return
        minutes = cycle * self.cadence
        passed = subprocess.run(
            [sys.executable, "manage.py", "shell", "-v", "0", "-c", DISPATCH_AT.format(minutes)],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        log(f"scheduler: the dispatcher's pass of cycle {cycle} queued {passed.stdout.strip()}")

    def _first_cycle(self, cluster, log):
        """Wait until every shop ran once, at most two intervals (a cluster that cannot keep
        up is measured as it is: how far behind is the figure); start the meters."""
        deadline = time.monotonic() + 2 * self.cadence * 60 + 2 * SCHEDULER_TICK
        while (ran := _ran_once(self.ids, self.started)) < len(self.ids):
            if time.monotonic() > deadline:
                log(f"scheduler: only {ran:,} of {len(self.ids):,} shops ran in two intervals")
                break
            _alive(cluster)
            time.sleep(SAMPLE_SECONDS)
        self.ran_in_first_cycle = ran
        steady = timezone.now()
        log(f"scheduler: {ran:,} shops ran once after {(steady - self.started).seconds}s")
        self.pg_before = _pg_counters()
        self.meters = {
            "qcluster": CpuMeter(lambda: process_tree(cluster.pid)),
            "postgresql": CpuMeter(database_backends),
            "sandbox": CpuMeter(lambda: process_tree(self.sandbox_pid)),
        }
        return steady

    def _sample(self, cluster, seconds: float) -> None:
        """Sample for ``seconds``, a timeline mark every ``TIMELINE_SECONDS`` (twice in a
        shorter window)."""
        every = min(TIMELINE_SECONDS, seconds / 2)
        deadline = time.monotonic() + seconds
        last = time.monotonic()
        marks = {"cpu": {n: m.seconds() for n, m in self.meters.items()}, "pg": _pg_counters()}
        while time.monotonic() < deadline:
            time.sleep(SAMPLE_SECONDS)
            _alive(cluster)
            self.lags.extend(_cursor_lags(self.ids))
            for meter in self.meters.values():
                meter.seconds()  # a backend that ends between two marks is still counted
            if time.monotonic() - last >= every:
                marks = self._mark(marks, time.monotonic() - last)
                last = time.monotonic()

    def _mark(self, marks: dict, seconds: float) -> dict:
        cpu = {n: m.seconds() for n, m in self.meters.items()}
        pg = _pg_counters()
        self.timeline.append(
            {
                "t": round((timezone.now() - self.started).total_seconds()),
                "queue": OrmQ.objects.count(),
                **{f"{n}_cpu": round(100 * (cpu[n] - marks["cpu"][n]) / seconds) for n in cpu},
                "commits_per_second": round(
                    (pg["xact_commit"] - marks["pg"]["xact_commit"]) / seconds
                ),
            }
        )
        return {"cpu": cpu, "pg": pg}


class CpuMeter:
    """CPU seconds a changing set of processes used since the meter started."""

    def __init__(self, processes) -> None:
        self.processes = processes
        self.last: dict[int, float] = {}
        self.total = 0.0
        self.seconds()
        self.total = 0.0

    def seconds(self) -> float:
        for proc in self.processes():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            used = times.user + times.system
            self.total += used - self.last.get(proc.pid, used)
            self.last[proc.pid] = used
        return self.total


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def database_backends() -> list[psutil.Process]:
    """The PostgreSQL backends serving this database now (other databases' are not ours)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found.append(psutil.Process(pid))
    return found


def _alive(cluster: subprocess.Popen) -> None:
    if cluster.poll() is not None:
        raise RuntimeError(
            f"the qcluster exited during the benchmark:\n{CLUSTER_LOG.read_text()[-3000:]}"
        )


def _cluster_env(workers: int) -> dict[str, str]:
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
        # the development key is refused with DEBUG off; the cluster alone signs and reads its
        # tasks (the dispatcher queues them), so a key of its own will do
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
    )
    if params.get("password"):
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(
            f"{params['user']}@", f"{params['user']}:{params['password']}@"
        )
    return env


def _start_cluster(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=CLUSTER_LOG.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop_cluster(cluster: subprocess.Popen) -> None:
    """SIGTERM to the cluster's own process, which stops its workers in its own order (a
    django-q2 cluster signalled all at once hangs: the run waited its whole 30 s for the
    kill), then whatever it left behind killed with its group."""
    if cluster.poll() is None:
        cluster.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            cluster.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):  # the group gone: nothing left behind
        os.killpg(cluster.pid, signal.SIGKILL)
    cluster.wait(timeout=15)


def _ran_once(ids: list[int], since) -> int:
    """How many of the shops finished a sync since ``since``."""
    return (
        SyncRun.objects.filter(shop_id__in=ids, stream="trades", started_at__gte=since)
        .exclude(outcome=SyncRun.Outcome.RUNNING)
        .values("shop_id")
        .distinct()
        .count()
    )


def _cursor_lags(ids: list[int]) -> list[float]:
    now = timezone.now()
    cursors = Checkpoint.objects.filter(shop_id__in=ids, stream="trades").values_list(
        "cursor", flat=True
    )
    return [(now - cursor).total_seconds() for cursor in cursors if cursor]


def _run_figures(ids: list[int], idle_ids: list[int], since, cadence_minutes: int) -> dict:
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
    gaps = _gaps(runs.filter(stream="trades"))
    late = cadence_minutes * 60 + 60
    return {
        "runs": outcomes,
        "api_calls_per_idle_stream_run": _round(per_stream_run, 3),
        # a scheduled sync task runs both streams (trades and refunds)
        "api_calls_per_idle_shop_run": _round(per_stream_run and per_stream_run * 2, 3),
        "run_ms": _percentiles(durations),
        "seconds_between_runs": _percentiles(gaps),
        "gaps_over_cadence_plus_60s": sum(1 for gap in gaps if gap > late),
    }


def _rate_done(ids: list[int], since, seconds: float) -> float:
    done = SyncRun.objects.filter(
        shop_id__in=ids, stream="trades", kind="incremental", started_at__gte=since
    ).count()
    return round(done / seconds, 1)


def _gaps(runs) -> list[float]:
    """Seconds between one shop's successive runs: above the cadence, a run came late."""
    starts: dict[int, list] = defaultdict(list)
    for shop_id, started in runs.order_by("started_at").values_list("shop_id", "started_at"):
        starts[shop_id].append(started)
    return [
        (later - earlier).total_seconds()
        for times in starts.values()
        for earlier, later in zip(times, times[1:], strict=False)
    ]


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
