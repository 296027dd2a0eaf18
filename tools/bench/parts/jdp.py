"""JDP on a Double 11 burst: one shop enrolled in the sandbox's push into a real MariaDB, a
burst of new trades, the consumer in this process until every trade is stored.

Figures: rows consumed per second, freshness (the platform's change, to the fraction of a
second → the change-feed commit that made it visible in the partner API) p50/p99, API calls
per changed trade, and whether the store equals the oracle.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pymysql
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tools import mariadb
from tools.bench import jdpburst
from tools.bench.machine import load_average
from tools.bench.oracle import TRADES, compare, stored, truth
from tools.bench.sandbox import SandboxProcess
from tools.bench.tmc import _pct, freshness, platform_now
from tools.bench.world import BenchWorld
from trades.jdp import runner
from trades.jdp.enrol import enrol_shop
from trades.jdp.models import JdpRds
from trades.models import Trade


class Part(BaseCommand):
    help = "Benchmark the JDP channel: a burst pushed into MariaDB, consumed, compared."

    def add_arguments(self, parser):
        parser.add_argument("--trades", type=int, default=5000, help="trades in the burst")
        parser.add_argument("--batch", type=int, default=500, help="JDP_BATCH_SIZE")
        parser.add_argument("--push-per-second", type=int, default=0, help="push throttle")
        parser.add_argument("--rds", default="", help="mysql:// URL (default: own MariaDB)")
        parser.add_argument(
            "--double11",
            action="store_true",
            help="faults on, a live market, the consumer a process SIGKILLed, safety polling",
        )
        parser.add_argument("--kills", type=int, default=6, help="SIGKILLs of the consumer")
        parser.add_argument("--market-seconds", type=float, default=90)
        parser.add_argument("--changes-per-minute", type=int, default=12000)
        parser.add_argument("--settle-seconds", type=float, default=600)
        parser.add_argument(
            "--safety-poll-minutes", type=float, default=None,
            help="default JDP_SAFETY_POLL_MINUTES",
        )  # fmt: skip
        parser.add_argument("--scale", type=float, default=60, help="platform s per run s")
        parser.add_argument("--lag", type=int, default=10, help="SYNC_LAG_SECONDS for the run")
        parser.add_argument("--log", default="/tmp/jdp-double11.log", help="consumer output")

    def handle(self, *args, **opts):
        settings.DEBUG = False
        settings.JDP_BATCH_SIZE = opts["batch"]
        settings.SYNC_LAG_SECONDS = opts["lag"]
        if opts["safety_poll_minutes"] is None:
            opts["safety_poll_minutes"] = settings.JDP_SAFETY_POLL_MINUTES
        if not opts["rds"] and mariadb.missing():
            raise CommandError(f"no --rds and no MariaDB to start: {mariadb.missing()}")
        with tempfile.TemporaryDirectory() as folder:
            server = None if opts["rds"] else mariadb.start(Path(folder))
            try:
                url = opts["rds"] or _database(server)
                figures = self.run(url, opts)
            finally:
                if server is not None:
                    server.stop()
        (self.report_double11 if opts["double11"] else self.report)(opts, figures)

    def run(self, url: str, opts) -> dict:
        with SandboxProcess(seed=17) as sandbox:
            sandbox.control("faults", {"jdp_push_per_second": opts["push_per_second"]})
            world = BenchWorld(sandbox)
            try:
                shop = world.shop("jdp")
                sandbox.control("jdp/rds", {"name": world.tag, "url": url})
                rds = JdpRds.objects.create(name=world.tag, url=url)
                enrol_shop(shop, rds, 0)
                if opts["double11"]:
                    return self.double11(sandbox, shop, opts)
                return self.burst(sandbox, shop, opts["trades"])
            finally:
                world.remove()
                JdpRds.objects.filter(name=world.tag).delete()

    def burst(self, sandbox, shop, count: int) -> dict:
        before = sandbox.control("stats")["calls_total"]
        since = platform_now(sandbox)
        self.stderr.write(f"burst of {count:,} trades, pushed and consumed …")
        sandbox.control("market", {"nick": shop.seller_nick, "burst": count})
        connections, started, rows = runner.Connections(), time.monotonic(), 0
        try:
            while Trade.objects.filter(shop=shop).count() < count:
                rows += runner.consume_once(connections, [shop.pk])
                time.sleep(0.05)
        finally:
            connections.close()
        seconds = time.monotonic() - started
        calls = sandbox.control("stats")["calls_total"] - before
        diff = compare(TRADES, truth(sandbox, shop.seller_nick, TRADES), stored(shop, TRADES))
        return {
            "seconds": seconds,
            "rows": rows,
            "calls": calls,
            "count": count,
            "freshness": _shown(sandbox, shop, since),
            "lost": diff.lost,
        }

    def double11(self, sandbox, shop, opts) -> dict:
        before, load = sandbox.control("stats"), load_average()
        since = platform_now(sandbox)
        run, diffs = jdpburst.double11(sandbox, shop, opts, self.stderr.write)
        after = sandbox.control("stats")
        changed = len(truth(sandbox, shop.seller_nick, TRADES))
        return {
            "run": run,
            "diffs": diffs,
            "changed": changed,
            "calls": after["calls_total"] - before["calls_total"],
            "trade_calls": jdpburst.trade_calls(after) - jdpburst.trade_calls(before),
            "by_method": jdpburst.calls_by_method(before, after),
            "jdp": after["jdp"],
            "freshness": _shown(sandbox, shop, since),
            "load": (load, load_average()),
        }

    def report_double11(self, opts, f: dict) -> None:
        w, run = self.stdout.write, f["run"]
        poll = opts["safety_poll_minutes"] * 60 / opts["scale"]
        w(
            f"ordersync JDP Double 11 (local sandbox and MariaDB): {opts['trades']:,}-trade burst, "
            f"{opts['changes_per_minute']:,} changes/min and 600 refunds/min for "
            f"{opts['market_seconds']:.0f}s, push faults {jdpburst.FAULTS}, "
            f"{opts['push_per_second'] or 'no'} pushes/s at most"
        )
        w(
            f"  jdp_consume SIGKILLed {run.kills} times and restarted; safety polling every "
            f"{poll:.0f}s ({opts['safety_poll_minutes']:g} min at 1:{opts['scale']:g}), "
            f"{run.polls} passes, lag {opts['lag']}s; {run.overruns} of its windows outlived "
            f"SYNC_WINDOW_TIME_LIMIT ({settings.SYNC_WINDOW_TIME_LIMIT}s)"
        )
        w(f"  load average at the start {f['load'][0]}, at the end {f['load'][1]}")
        w(f"  push: {f['jdp']}")
        for diff in f["diffs"]:
            w(f"  {diff}   [bound: 0 missing, 0 stale]")
        w(f"  settled (push drained, oracle equal) {run.settled_after:.1f}s after the burst")
        polled = run.poll_calls["trades"]
        w(
            f"  API calls per changed trade {polled / max(f['changed'], 1):.4f} from the safety "
            f"polling ({polled} trade-stream calls / {f['changed']:,} trades; it wrote "
            f"{run.poll_wrote} versions first)   [aim < 0.02; polling alone 0.204 in "
            "docs/benchmarks.md]"
        )
        w(
            f"  all trade API calls {f['trade_calls'] / max(f['changed'], 1):.4f} per changed "
            f"trade ({f['trade_calls']}: the polling's and the consumer's same-second detail "
            f"reads); {f['calls']} calls in all, refund stream {run.poll_calls['refunds']}"
        )
        w(f"  calls by method: {f['by_method']}")
        fresh = f["freshness"]
        w(
            f"  freshness (platform change → change-feed commit served by the API) "
            f"p50 {_pct(fresh, 50):.2f}s p99 {_pct(fresh, 99):.2f}s over {len(fresh):,} "
            f"versions   [bound: the push delay, 2 s, 20 s tail, plus the throttle's backlog]"
        )

    def report(self, opts, f: dict) -> None:
        w = self.stdout.write
        throttle = opts["push_per_second"] or "no"
        w(f"ordersync JDP (local sandbox and MariaDB; {throttle} push throttle, default delay)")
        w(
            f"  burst of {f['count']:,} trades stored in {f['seconds']:.1f}s: "
            f"{f['count'] / f['seconds']:,.0f} trades/s, {f['rows']:,} rows read (overlap incl.)"
        )
        fresh = f["freshness"]
        w(f"  freshness p50 {_pct(fresh, 50):.2f}s  p99 {_pct(fresh, 99):.2f}s  over {len(fresh)}")
        w(f"  API calls {f['calls']} ({f['calls'] / f['count']:.4f} per changed trade)")
        w(f"  {'equals' if not f['lost'] else 'DIFFERS FROM'} the oracle ({f['lost']} lost)")


def _database(server) -> str:
    connection = pymysql.connect(host="127.0.0.1", port=server.port, user="root")
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE jdp CHARACTER SET utf8mb4")
    connection.close()
    return server.url("jdp")


def _shown(sandbox, shop, since: float) -> list[float]:
    """Freshness of the versions made since ``since`` that became visible, sorted."""
    return sorted(s for s in freshness(sandbox, shop, since) if s is not None)
