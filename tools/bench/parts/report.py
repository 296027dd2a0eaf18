"""``manage.py bench``: every benchmark figure of ordersync from one run on this machine.

Parts (``--only``): naive (ordersync against the naive scheme of ``naive.py`` on the chaos
scenario), double11 (the same two on a burst of 50,000 new trades in three minutes), backfill
(trades/s and peak RSS per size), scheduler (many shops on a cadence by one qcluster), api
(partner API latency and requests/s), feed, tmc, steady (API calls per changed trade in
steady state at the default visibility overlap and a 5 s one), webhooks (deliveries/s). Results
are merged into ``--json`` (parts not run keep their last figures) and rendered to
``docs/benchmarks.md`` and, in Chinese, ``docs/zh/benchmarks.md``. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ordersync.taobao.store import close_state_connection
from tools.bench import api, feed, psql_floor, report, steady
from tools.bench.backfill import backfill_in_child, measure_backfill
from tools.bench.chaos import CatchUp, compare_with_burst, compare_with_chaos
from tools.bench.machine import describe_machine, load_average, settle
from tools.bench.sandbox import SandboxProcess
from tools.bench.scheduler import measure_scheduler
from tools.bench.tmc import measure_tmc
from tools.bench.webhooks import measure_webhooks
from tools.bench.world import BenchWorld

FULL = {
    "chaos_seconds": 30,
    "burst_trades": 50_000,
    "burst_minutes": 3.0,
    "backfill_sizes": [100_000, 1_000_000],
    "shops": 10_000,
    "active_shops": 50,
    "cadence_minutes": 5,
    "cycles": 2,
    "api_trades": 1_000_000,
    "api_seconds": 15.0,
    "api_samples": 300,
    "feed_changes": 1_000_000,
    "tmc_seconds": 60.0,
    "steady_runs": 4,
    "steady_interval": 30.0,
    "steady_lag": 10,
    "settle_seconds": 300.0,
}
QUICK = {
    "chaos_seconds": 10,
    "burst_trades": 3_000,
    "burst_minutes": 0.5,
    "backfill_sizes": [5_000, 20_000],
    "shops": 20,
    "active_shops": 2,
    "cadence_minutes": 1,
    "cycles": 2,
    "api_trades": 20_000,
    "api_seconds": 5.0,
    "api_samples": 100,
    "feed_changes": 20_000,
    "tmc_seconds": 15.0,
    "steady_runs": 2,
    "steady_interval": 5.0,
    "steady_lag": 2,
    "settle_seconds": 0.0,
}


STEADY_CHANGES_PER_MINUTE = 600
STEADY_SHORT_OVERLAP = 5  # SYNC_VISIBLE_OVERLAP_SECONDS measured beside the default


class Part(BaseCommand):
    help = "Run the benchmarks and write docs/benchmarks.json, docs/benchmarks.md and docs/zh."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
        parser.add_argument(
            "--only", default=",".join(report.PARTS), help="comma-separated parts to run"
        )
        parser.add_argument("--json", default="docs/benchmarks.json", help="results file")
        parser.add_argument(
            "--markdown",
            default=None,
            help="table file (default: next to --json, .md); its Chinese one goes in zh/ beside it",
        )
        parser.add_argument("--chaos-seconds", type=float)
        parser.add_argument("--burst-trades", type=int, help="new trades of the Double 11 part")
        parser.add_argument("--burst-minutes", type=float, help="minutes the burst lasts")
        parser.add_argument(
            "--catch-up-minutes",
            type=float,
            default=30.0,
            help="after the market of naive and double11: how long a side's passes may go on "
            "until its store equals the ground truth",
        )
        parser.add_argument("--backfill-sizes", help="comma-separated trade counts")
        parser.add_argument("--shops", type=int)
        parser.add_argument("--active-shops", type=int)
        parser.add_argument(
            "--cadence-minutes", type=int, help="the shops' sync interval (the product's is 1-30)"
        )
        parser.add_argument("--cycles", type=int, help="cadence cycles the scheduler part runs")
        parser.add_argument(
            "--workers",
            type=int,
            default=12,
            help="qcluster workers (a sync mostly waits on the platform and the database)",
        )
        parser.add_argument("--api-trades", type=int)
        parser.add_argument("--feed-changes", type=int, help="changes the feed part reads")
        parser.add_argument("--tmc-seconds", type=float, help="market seconds of the tmc part")
        parser.add_argument("--steady-runs", type=int, help="syncs of each steady shop")
        parser.add_argument("--steady-interval", type=float, help="seconds between steady syncs")
        parser.add_argument("--steady-lag", type=int, help="SYNC_LAG_SECONDS of the steady part")
        parser.add_argument(
            "--settle-seconds",
            type=float,
            help="api and feed: at most this long, after loading their rows and before timing, "
            "wait for the 1-minute load average to fall to --settle-load (300; --quick: 0)",
        )
        parser.add_argument(
            "--settle-load",
            type=float,
            help="the 1-minute load average the api and feed parts wait for (half the cores)",
        )
        parser.add_argument(
            "--render", action="store_true", help="only rewrite the pages from the JSON file"
        )
        parser.add_argument("--backfill-child", type=int, help=argparse_hidden())

    def handle(self, **opts) -> None:
        # With DEBUG, Django keeps the text of every query: memory would grow with the work.
        settings.DEBUG = False
        # one log line per sync run would bury the figures
        logging.getLogger("ordersync").setLevel(logging.WARNING)
        if opts["backfill_child"]:
            figures = measure_backfill(opts["backfill_child"], log=self._log)
            self.stdout.write(json.dumps(figures))
            return
        if opts["render"]:
            path = Path(opts["json"])
            results = json.loads(path.read_text())
            markdown = Path(opts["markdown"] or path.with_suffix(".md"))
            report.write_markdown(markdown, results)
            self.stdout.write(report.text(results))
            return
        only = [p.strip() for p in opts["only"].split(",") if p.strip()]
        unknown = set(only) - set(report.PARTS)
        if unknown:
            raise CommandError(f"unknown parts {sorted(unknown)}; choose from {report.PARTS}")
        sizes = {**(QUICK if opts["quick"] else FULL)}
        for key in sizes:
            if opts.get(key) is not None:
                sizes[key] = opts[key]
        if isinstance(sizes["backfill_sizes"], str):
            sizes["backfill_sizes"] = [int(n) for n in sizes["backfill_sizes"].split(",")]
        args = sys.argv[2:] if sys.argv[1:2] == ["bench"] else ["(called in-process)"]
        command = " ".join(["python manage.py bench", *map(shlex.quote, args)])
        path = Path(opts["json"])
        markdown = Path(opts["markdown"] or path.with_suffix(".md"))
        machine = describe_machine()
        parts = {}
        for name in report.PARTS:
            if name not in only:
                continue
            before = load_average()
            started = time.monotonic()
            self._log(f"== {name} (load average {before})")
            try:
                figures = getattr(self, f"_{name}")(sizes, opts)
            finally:
                close_state_connection()  # the API clients' limiter and clock connection
            parts[name] = {
                "command": command,
                "git_commit": machine["git_commit"],
                "measured_at": timezone.now().isoformat(timespec="seconds"),
                "seconds": round(time.monotonic() - started, 1),
                "load_average_before": before,
                "load_average_after": load_average(),
                "figures": figures,
            }
            # written after each part: a long run cut short keeps what it measured
            results = report.merge(path, machine, {name: parts[name]})
            report.write_markdown(markdown, results)
        self.stdout.write(report.text({"machine": describe_machine(), "parts": parts}))
        pages = ", ".join(map(str, report.pages(markdown).values()))
        self.stdout.write(f"results: {path}, {pages}")

    def _log(self, message: str) -> None:
        self.stderr.write(message)

    # --- parts --------------------------------------------------------------------------------
    def _naive(self, sizes: dict, opts: dict) -> dict:
        with SandboxProcess(seed=31) as sandbox:
            world = BenchWorld(sandbox)
            try:
                return compare_with_chaos(world, sizes["chaos_seconds"], cap=_cap(opts))
            finally:
                world.remove()

    def _double11(self, sizes: dict, opts: dict) -> dict:
        with SandboxProcess(seed=11) as sandbox:
            world = BenchWorld(sandbox)
            try:
                return compare_with_burst(
                    world, sizes["burst_trades"], sizes["burst_minutes"], cap=_cap(opts)
                )
            finally:
                world.remove()

    def _backfill(self, sizes: dict, opts: dict) -> dict:
        results = []
        for trades in sizes["backfill_sizes"]:
            self._log(f"backfill: {trades:,} trades in a child process …")
            results.append(backfill_in_child(trades))
            self._log(f"backfill: {results[-1]}")
        return {"sizes": results}

    def _scheduler(self, sizes: dict, opts: dict) -> dict:
        return measure_scheduler(
            sizes["shops"],
            sizes["cadence_minutes"],
            sizes["cycles"],
            sizes["active_shops"],
            workers=opts["workers"],
            log=self._log,
        )

    def _settle(self, sizes: dict, opts: dict) -> dict:
        """The wait before a timed part, so it does not measure the previous part's load."""
        threshold = opts.get("settle_load")
        if threshold is None:
            threshold = (os.cpu_count() or 2) / 2
        return settle(threshold, sizes["settle_seconds"], log=self._log)

    def _api(self, sizes: dict, opts: dict) -> dict:
        lines = 2
        shop = api.load_trades(sizes["api_trades"], lines, log=self._log)
        token = api.read_key(shop)
        settled = self._settle(sizes, opts)
        return {
            "trades": sizes["api_trades"],
            "lines": lines,
            "settle": settled,
            "in_process": api.time_in_process(token, 100, sizes["api_samples"]),
            "psql": psql_floor.time_in_psql(psql_floor.list_queries(token, 100)),
            "gunicorn": api.time_through_gunicorn(
                token, page=100, workers=3, threads=2, clients=8, seconds=sizes["api_seconds"]
            ),
        }

    def _feed(self, sizes: dict, opts: dict) -> dict:
        shop = feed.load_changes(sizes["feed_changes"], log=self._log)
        settled = self._settle(sizes, opts)
        return {**feed.read_all(shop), "settle": settled}

    def _tmc(self, sizes: dict, opts: dict) -> dict:
        return measure_tmc(seconds=sizes["tmc_seconds"], log=self._log)

    def _steady(self, sizes: dict, opts: dict) -> dict:
        default, short = steady.measure_overlaps(
            STEADY_CHANGES_PER_MINUTE,
            sizes["steady_interval"],
            sizes["steady_runs"],
            sizes["steady_lag"],
            (steady.DEFAULT, STEADY_SHORT_OVERLAP),
            log=self._log,
        )
        return {"changes_per_minute": STEADY_CHANGES_PER_MINUTE, "default": default, "short": short}

    def _webhooks(self, sizes: dict, opts: dict) -> dict:
        figures = measure_webhooks(opts["quick"])
        if not figures.get("measured"):
            self._log("webhooks: not measured (not available)")
        return figures


def _cap(opts: dict) -> CatchUp:
    return CatchUp(seconds=opts["catch_up_minutes"] * 60)


def argparse_hidden() -> str:
    return argparse.SUPPRESS
