"""Backfill throughput and memory: one size per child process, so each peak RSS is its own.

The parent asks ``manage.py bench --backfill-child N``; the child generates N trades in a
sandbox of its own, backfills them and prints one JSON line with its figures. Peak RSS is
the child's high-water mark (``VmHWM``), the sandbox (another process) not included.
Beside each size, the limits of ``limits.py`` measured on the same rows: the sandbox's raw
page rate and the rows loaded again with ``COPY``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time

import psutil
from django.db import connection

from tools.bench import limits as limits_
from tools.bench.sandbox import ROOT, SandboxProcess
from tools.bench.scheduler import CpuMeter, database_backends, process_tree
from tools.bench.world import BenchWorld
from trades.sync.backfill import backfill_shop

MB = 1024 * 1024


def backfill_in_child(trades: int, timeout: float = 4 * 3600) -> dict:
    """Run one backfill of ``trades`` in a fresh process; return its figures."""
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", "--backfill-child", str(trades)],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"the backfill child failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def measure_backfill(trades: int, days: int = 30, log=print) -> dict:
    """Generate ``trades`` over ``days`` in a sandbox and backfill them; return the figures."""
    with SandboxProcess(seed=11) as sandbox:
        world = BenchWorld(sandbox)
        try:
            log(f"backfill: generating {trades:,} trades in the sandbox …")
            started = time.perf_counter()
            shop = world.shop("backfill", history_trades=trades, history_days=days)
            generated = time.perf_counter() - started
            log(f"backfill: generated in {generated:.0f}s; backfilling …")
            meters = {
                "ordersync": CpuMeter(lambda: [psutil.Process()]),
                "postgresql": CpuMeter(database_backends),
                "sandbox": CpuMeter(lambda: process_tree(sandbox.process.pid)),
            }
            sampler = RssSampler(meters)
            rss_before = sampler.rss()
            started = time.perf_counter()
            with sampler:
                run = backfill_shop(shop, days + 1, on_progress=lambda progress: sampler.sample())
            seconds = time.perf_counter() - started
            # read now: the limits and the world's removal come after and are not the backfill's
            high_water = _max_rss_mb()
            log(f"backfill: {run.trades_written:,} trades in {seconds:.0f}s; the limits …")
            limits = {"source": limits_.source_rate(shop, days), "write": limits_.copy_rate(shop)}
        finally:
            world.remove()
    # the removal is set-based SQL: nothing it deletes passes through this process
    with_cleanup = _max_rss_mb()
    return {
        "trades": trades,
        "outcome": run.outcome,
        "trades_written": run.trades_written,
        "seconds": round(seconds, 1),
        "trades_per_second": round(run.trades_written / seconds),
        "api_calls": run.api_calls,
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_peak": round(max(sampler.peak, high_water), 1),
        "rss_mb_by_quarter": sampler.quarters(),
        "rss_mb_peak_with_limits_and_cleanup": round(with_cleanup, 1),
        "sandbox_generation_seconds": round(generated, 1),
        # CPU seconds per 1,000 trades written: what each process needs of a core
        "cpu_per_1000_trades": {
            name: round(1000 * meter.total / max(run.trades_written, 1), 3)
            for name, meter in meters.items()
        },
        "limits": limits,
    }


class RssSampler:
    """This process's RSS every 0.2 s in a thread, and at each progress report; and the
    CPU ``meters``, read every 0.2 s (a PostgreSQL backend that ends between two reads
    loses what it used since the last one)."""

    def __init__(self, meters: dict[str, CpuMeter] | None = None) -> None:
        self.meters = meters or {}
        self.process = psutil.Process()
        self.samples: list[float] = []
        self.peak = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> float:
        return self.process.memory_info().rss / MB

    def sample(self) -> None:
        value = self.rss()
        self.samples.append(value)
        self.peak = max(self.peak, value)

    def _run(self) -> None:
        try:
            while not self.stop.wait(0.2):
                self.sample()
                for meter in self.meters.values():
                    meter.seconds()
        finally:
            connection.close()  # the backends' query opened this thread's connection

    def quarters(self) -> list[float]:
        if not self.samples:
            return []
        n = len(self.samples)
        return [round(self.samples[min(n - 1, (n * k) // 4)], 1) for k in (1, 2, 3, 4)]

    def __enter__(self) -> RssSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.sample()
        for meter in self.meters.values():
            meter.seconds()


def _max_rss_mb() -> float:
    """This process's high-water RSS in MB: ``VmHWM``, the peak of its own memory.

    Not ``ru_maxrss``: Linux carries that over ``exec`` from the process that spawned this
    one, so a child of a ``bench`` parent that had reached 640 MB reported 640 MB whatever
    it did itself."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
