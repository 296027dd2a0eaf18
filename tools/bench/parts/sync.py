"""Figures of the sync engine against a local sandbox: backfill throughput and memory, API
calls per changed trade in a steady scenario, calls per idle-shop run, time.get calls."""

from __future__ import annotations

import json
import time

import psutil
from django.conf import settings
from django.core.management.base import BaseCommand

from tools.bench import steady
from tools.bench.sandbox import SandboxProcess
from tools.bench.world import BenchWorld
from trades.sync.backfill import Progress, backfill_shop
from trades.sync.incremental import sync_shop

MB = 1024 * 1024


class Part(BaseCommand):
    help = "Benchmark the sync engine against a local sandbox and print the figures."

    def add_arguments(self, parser):
        parser.add_argument("--backfill-trades", type=int, default=20000)
        parser.add_argument("--changes-per-minute", type=int, default=600)
        parser.add_argument("--interval", type=float, default=60, help="seconds between syncs")
        parser.add_argument("--runs", type=int, default=4, help="steady-state sync runs")
        parser.add_argument(
            "--lag", type=int, help="SYNC_LAG_SECONDS for the steady runs (default: the setting)"
        )
        parser.add_argument("--json", help="also write the figures to this file")

    def handle(self, *args, **opts):
        # With DEBUG, Django keeps the text of every query: memory would grow with the work.
        settings.DEBUG = False
        if opts["lag"] is not None:
            settings.SYNC_LAG_SECONDS = opts["lag"]
        figures: dict = {}
        with SandboxProcess(seed=11) as sandbox:
            world = BenchWorld(sandbox)
            try:
                figures["backfill"] = self.backfill(world, opts["backfill_trades"])
                figures["idle"] = self.idle(world)
                figures["steady"] = steady.measure(
                    world,
                    opts["changes_per_minute"],
                    opts["interval"],
                    opts["runs"],
                    log=self.stderr.write,
                )[0]
                stats = sandbox.control("stats")
                figures["time_get_calls"] = _method_calls(stats, "taobao.time.get")
            finally:
                world.remove()
        self.report(figures)
        if opts["json"]:
            with open(opts["json"], "w") as out:
                json.dump(figures, out, indent=2, default=str)

    def backfill(self, world: BenchWorld, trades: int) -> dict:
        self.stderr.write(f"backfill: generating {trades:,} trades in the sandbox …")
        shop = world.shop("backfill", history_trades=trades, history_days=30)
        process = psutil.Process()
        samples: list[float] = []

        def sample(progress: Progress) -> None:
            samples.append(process.memory_info().rss / MB)

        rss_before = process.memory_info().rss / MB
        started = time.perf_counter()
        run = backfill_shop(shop, 31, on_progress=sample)
        seconds = time.perf_counter() - started
        quarter = max(1, len(samples) // 4)
        return {
            "outcome": run.outcome,
            "trades": run.trades_written,
            "seconds": round(seconds, 2),
            "trades_per_second": round(run.trades_written / seconds),
            "api_calls": run.api_calls,
            "rss_mb_before": round(rss_before, 1),
            "rss_mb_by_quarter": [round(s, 1) for s in samples[quarter - 1 :: quarter]][:4],
        }

    def idle(self, world: BenchWorld) -> dict:
        shop = world.shop("idle")
        sync_shop(shop, "trades")  # first run: sets the cursor, no call
        runs = []
        for _ in range(5):
            time.sleep(1.1)
            runs.append(sync_shop(shop, "trades").api_calls)
        return {"runs": len(runs), "api_calls_per_run": sum(runs) / len(runs)}

    def report(self, f: dict) -> None:
        b, s, i = f["backfill"], f["steady"], f["idle"]
        w = self.stdout.write
        w("ordersync sync benchmark (local sandbox, this machine)")
        w(
            f"  backfill            {b['trades']:,} trades in {b['seconds']}s = "
            f"{b['trades_per_second']:,} trades/s, {b['api_calls']} API calls ({b['outcome']})"
        )
        w(
            f"  backfill memory     RSS {b['rss_mb_before']} MB before; by quarter "
            f"{b['rss_mb_by_quarter']} MB"
        )
        w(
            f"  steady              {s['changed_trades']:,} changed trades, "
            f"{s['api_calls']} API calls"
            f" = {s['api_calls_per_changed_trade']} per changed trade "
            f"({s['ratio_to_minimum']}x the minimum of {s['minimum_calls']}; rows read "
            f"{s['rows_read']:,} with a {s['overlap_seconds']}s overlap, "
            f"{s['visible_overlap_seconds']}s on visibility time)"
        )
        w(
            f"  steady by run       [calls, rows listed, trades written] {s['by_run']}; "
            f"load average {s['load_average'][0]} before, {s['load_average'][1]} after"
        )
        w(f"  idle shop           {i['api_calls_per_run']} API calls per run")
        w(f"  taobao.time.get     {f['time_get_calls']} calls in the whole benchmark")


def _method_calls(stats: dict, method: str) -> int:
    calls = stats.get("calls", {})
    if method in calls and isinstance(calls[method], int):
        return calls[method]
    return sum(v for k, v in _flatten(calls) if method in k)


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}/{key}")
    elif isinstance(value, int):
        yield prefix, value
