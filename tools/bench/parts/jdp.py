"""JDP on a Double 11 burst: one shop enrolled in the sandbox's push into a real MariaDB, a
burst of new trades, the consumer in this process until every trade is stored.

Figures: rows consumed per second, freshness (platform ``modified`` → the change-feed commit
that made it visible in the partner API) p50/p99, API calls per changed trade, and whether
the store equals the oracle.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pymysql
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tools import mariadb
from tools.bench.oracle import TRADES, compare, stored, truth
from tools.bench.parts.tmc import _freshness, _pct
from tools.bench.sandbox import SandboxProcess
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

    def handle(self, *args, **opts):
        settings.DEBUG = False
        settings.JDP_BATCH_SIZE = opts["batch"]
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
        self.report(opts, figures)

    def run(self, url: str, opts) -> dict:
        with SandboxProcess(seed=17) as sandbox:
            sandbox.control("faults", {"jdp_push_per_second": opts["push_per_second"]})
            world = BenchWorld(sandbox)
            try:
                shop = world.shop("jdp")
                sandbox.control("jdp/rds", {"name": world.tag, "url": url})
                rds = JdpRds.objects.create(name=world.tag, url=url)
                enrol_shop(shop, rds, 0)
                return self.burst(sandbox, shop, opts["trades"])
            finally:
                world.remove()
                JdpRds.objects.filter(name=world.tag).delete()

    def burst(self, sandbox, shop, count: int) -> dict:
        before = sandbox.control("stats")["calls_total"]
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
            "freshness": _freshness(shop),
            "lost": diff.lost,
        }

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
