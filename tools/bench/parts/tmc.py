"""Freshness with TMC on and off, on the same scenario: two shops of two apps in one local
sandbox with the same market; both polled on the same interval, one also consumed by TMC.

Freshness of a change = the platform ``modified`` of a version (one-second resolution) →
the commit that made it visible in the partner API (its change-feed event).
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from ordersync.taobao.types import PLATFORM_TZ
from tools.bench.sandbox import SandboxProcess
from tools.bench.world import BenchWorld
from trades.feed.models import ChangeEvent
from trades.models import Trade
from trades.sync.incremental import sync_shop
from trades.tmc.consumer import Consumer
from trades.tmc.models import TmcStat
from trades.tmc.stats import counters


class Part(BaseCommand):
    help = "Benchmark freshness (sandbox change → visible in the API) with TMC on and off."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=60, help="how long the market runs")
        parser.add_argument("--changes-per-minute", type=int, default=600)
        parser.add_argument("--interval", type=float, default=30, help="seconds between polls")
        parser.add_argument("--lag", type=int, default=30, help="SYNC_LAG_SECONDS for the run")
        parser.add_argument("--drop", type=float, default=0.0, help="TMC messages dropped (0-1)")

    def handle(self, *args, **opts):
        settings.DEBUG = False
        settings.SYNC_LAG_SECONDS = opts["lag"]
        per_minute, interval = opts["changes_per_minute"], opts["interval"]
        with SandboxProcess(seed=13) as sandbox:
            sandbox.control("faults", {"tmc_drop_rate": opts["drop"]})
            on_world = BenchWorld(sandbox)
            time.sleep(0.01)  # worlds are named by the millisecond
            off_world = BenchWorld(sandbox)
            try:
                on, off = on_world.shop("tmc-on"), off_world.shop("tmc-off")
                for shop in (on, off):
                    sync_shop(shop, "trades")
                    sync_shop(shop, "refunds")
                stop = threading.Event()
                consumer = threading.Thread(target=_consume, args=(on_world.app, stop))
                consumer.start()
                time.sleep(1)  # the consumer permits its shop first
                rates = {
                    "trades_per_minute": per_minute // 3,
                    "changes_per_minute": per_minute - per_minute // 3,
                }
                for shop in (on, off):
                    sandbox.control("market", {"nick": shop.seller_nick, **rates})
                self.stderr.write(
                    f"market {opts['seconds']:.0f}s at {per_minute}/min per shop, polls every "
                    f"{interval:.0f}s, lag {opts['lag']}s …"
                )
                market_end = time.time() + opts["seconds"]
                next_poll = time.time()
                # poll until every change of the market period was past the lag and read
                while time.time() < market_end + opts["lag"] + 2 * interval:
                    if time.time() >= market_end and rates:
                        for shop in (on, off):
                            sandbox.control(
                                "market",
                                {"nick": shop.seller_nick, "trades_per_minute": 0,
                                 "changes_per_minute": 0},
                            )  # fmt: skip
                        rates = {}
                    if time.time() >= next_poll:
                        for shop in (on, off):
                            sync_shop(shop, "trades")
                            sync_shop(shop, "refunds")
                        next_poll += interval
                    time.sleep(0.2)
                stop.set()
                consumer.join(30)
                tmc = counters(on_world.app.app_key)
                figures = {
                    name: (_freshness(shop), _matches(sandbox, shop))
                    for name, shop in (("on", on), ("off", off))
                }
                calls = sandbox.control("stats")["calls"]
            finally:
                TmcStat.objects.filter(app_key=on_world.app.app_key).delete()
                on_world.remove()
                off_world.remove()
        self.report(opts, figures, tmc, calls, on_world.app.app_key)

    def report(self, opts, figures, tmc, calls, app_key) -> None:
        w = self.stdout.write
        w(
            f"ordersync TMC freshness (local sandbox; {opts['changes_per_minute']} changes/min "
            f"per shop for {opts['seconds']:.0f}s, polling every {opts['interval']:.0f}s, "
            f"lag {opts['lag']}s, {opts['drop']:.0%} of TMC messages dropped)"
        )
        for name, label in (("on", "TMC on  (TMC + polling)"), ("off", "TMC off (polling only) ")):
            seconds, matches = figures[name]
            w(
                f"  {label}  p50 {_pct(seconds, 50):6.2f}s  p99 {_pct(seconds, 99):6.2f}s  "
                f"max {max(seconds, default=0):6.2f}s  over {len(seconds)} changes; "
                f"{'equals' if matches else 'DIFFERS FROM'} the oracle"
            )
        received = int(tmc.get("messages:received", 0))
        w(
            f"  TMC messages        {received} received, "
            f"{int(tmc.get('messages:collapsed', 0))} collapsed, "
            f"{int(tmc.get('fetches:trade', 0))} trade and "
            f"{int(tmc.get('fetches:refund', 0))} refund fetches, "
            f"{int(tmc.get('fetches:refetch', 0))} refetches (same-second changes)"
        )
        fullinfo = calls.get("taobao.trade.fullinfo.get", {}).get(app_key, 0)
        w(f"  fullinfo calls      {fullinfo} for the TMC shop's app")


def _consume(app, stop: threading.Event) -> None:
    try:
        Consumer(app).run(stop)
    finally:
        connection.close()


def _freshness(shop) -> list[float]:
    events = ChangeEvent.objects.filter(shop=shop, entity="trade")
    return sorted(
        (created - modified).total_seconds()
        for created, modified in events.values_list("created_at", "modified")
    )


def _matches(sandbox, shop) -> bool:
    oracle = sandbox.control(f"oracle/trades?nick={shop.seller_nick}")["trades"]
    ours = {
        t.tid: (t.status, t.modified.astimezone(PLATFORM_TZ).strftime("%Y-%m-%d %H:%M:%S"))
        for t in Trade.objects.filter(shop=shop)
    }
    return ours == {t["tid"]: (t["status"], t["modified"]) for t in oracle}


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
