"""Freshness with TMC on and off, on the same scenario: two shops of two apps in one local
sandbox with the same market; both polled on the same interval, one also consumed by TMC.

Freshness of a change = the platform time the sandbox made a version (to the fraction of a
second: ``modified`` on the wire has whole seconds, which would add up to a second to every
figure) → the commit that first made it, or a newer version of the trade, visible in the
partner API (the feed position of its change-feed event). Every version made while the market
runs counts, also those a newer one replaced before ordersync fetched them, so collapsing
messages is not rewarded; versions never made visible are counted apart.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.test import override_settings

from ordersync.taobao.types import PLATFORM_TZ
from tools.bench.sandbox import SandboxProcess
from tools.bench.world import BenchWorld
from trades.feed.models import ChangeEvent, FeedCommit
from trades.models import Trade
from trades.sync.incremental import sync_shop
from trades.tmc.consumer import Consumer
from trades.tmc.models import TmcStat
from trades.tmc.stats import counters


def measure_tmc(
    seconds: float = 60,
    changes_per_minute: int = 600,
    interval: float = 30,
    lag: int = 30,
    drop: float = 0.0,
    log=print,
) -> dict:
    """Run the market on both shops; return the freshness of each and the TMC counters."""
    with override_settings(DEBUG=False, SYNC_LAG_SECONDS=lag):
        return _measure(seconds, changes_per_minute, interval, lag, drop, log)


def _measure(
    seconds: float, changes_per_minute: int, interval: float, lag: int, drop: float, log
) -> dict:
    per_minute = changes_per_minute
    with SandboxProcess(seed=13) as sandbox:
        sandbox.control("faults", {"tmc_drop_rate": drop})
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
            market_start = platform_now(sandbox)
            for shop in (on, off):
                sandbox.control("market", {"nick": shop.seller_nick, **rates})
            log(
                f"tmc: market {seconds:.0f}s at {per_minute}/min per shop, polls every "
                f"{interval:.0f}s, lag {lag}s …"
            )
            market_end = time.time() + seconds
            next_poll = time.time()
            # poll until every change of the market period was past the lag and read
            while time.time() < market_end + lag + 2 * interval:
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
            sides = {
                name: _side(freshness(sandbox, shop, market_start), _matches(sandbox, shop))
                for name, shop in (("on", on), ("off", off))
            }
            calls = sandbox.control("stats")["calls"]
        finally:
            TmcStat.objects.filter(app_key=on_world.app.app_key).delete()
            on_world.remove()
            off_world.remove()
    fullinfo = calls.get("taobao.trade.fullinfo.get", {}).get(on_world.app.app_key, 0)
    return {
        "seconds": seconds,
        "changes_per_minute": per_minute,
        "interval_seconds": interval,
        "lag_seconds": lag,
        "drop": drop,
        "collapse_seconds": settings.TMC_COLLAPSE_SECONDS,
        **sides,
        "tmc": {k: int(v) for k, v in tmc.items()},
        "fullinfo_calls": fullinfo,
    }


def lines(f: dict) -> list[str]:
    """The figures as text (``bench tmc`` prints them; the report shows them too)."""
    out = [
        f"ordersync TMC freshness (local sandbox; {f['changes_per_minute']} changes/min "
        f"per shop for {f['seconds']:.0f}s, polling every {f['interval_seconds']:.0f}s, "
        f"lag {f['lag_seconds']}s, {f['drop']:.0%} of TMC messages dropped)"
    ]
    for name, label in (("on", "TMC on  (TMC + polling)"), ("off", "TMC off (polling only) ")):
        s = f[name]
        out.append(
            f"  {label}  p50 {s['p50']:6.2f}s  p99 {s['p99']:6.2f}s  max {s['max']:6.2f}s  "
            f"over {s['changes']} changes{_unseen(s)}; "
            f"{'equals' if s['matches_oracle'] else 'DIFFERS FROM'} the oracle"
        )
    tmc = f["tmc"]
    out.append(
        f"  TMC messages        {tmc.get('messages:received', 0)} received, "
        f"{tmc.get('messages:collapsed', 0)} collapsed, "
        f"{tmc.get('fetches:trade', 0)} trade and {tmc.get('fetches:refund', 0)} refund "
        f"fetches, {tmc.get('fetches:refetch', 0)} refetches (same-second changes)"
    )
    out.append(f"  fullinfo calls      {f['fullinfo_calls']} for the TMC shop's app")
    return out


def _unseen(side: dict) -> str:
    return f" ({side['unseen']} never visible)" if "unseen" in side else ""


def _side(seconds: list[float | None], matches: bool) -> dict:
    shown = sorted(s for s in seconds if s is not None)
    return {
        "p50": round(_pct(shown, 50), 2),
        "p99": round(_pct(shown, 99), 2),
        "max": round(max(shown, default=0), 2),
        "changes": len(shown),
        "unseen": len(seconds) - len(shown),
        "matches_oracle": matches,
    }


def _consume(app, stop: threading.Event) -> None:
    try:
        Consumer(app).run(stop)
    finally:
        connection.close()


def platform_now(sandbox) -> float:
    """The sandbox's platform time now, in epoch seconds."""
    return sandbox.control("time")["epoch_ms"] / 1000


def freshness(sandbox, shop, since: float) -> list[float | None]:
    """For each trade version the sandbox made at or after ``since`` (platform time): seconds
    until a commit first made it or a newer version visible in the API; None if none did."""
    nick = quote(shop.seller_nick)
    versions = sandbox.control(f"oracle/versions?nick={nick}&since={since}")["versions"]
    offset = platform_now(sandbox) - time.time()  # platform time - this machine's clock
    commits = _commits(shop, offset)
    return [_shown(commits.get(tid, []), made_at, modified) for tid, made_at, modified in versions]


def _shown(commits: list[tuple[float, float]], made_at: float, modified: float) -> float | None:
    """Seconds from ``made_at`` to the first commit at or after it that shows ``modified`` or a
    newer one (``commits``: (committed at, modified shown), in commit order)."""
    for committed, shown in commits:
        if committed >= made_at and shown >= modified:
            return committed - made_at
    return None


def _commits(shop, offset: float) -> dict[int, list[tuple[float, float]]]:
    """Per tid, the (commit time in platform time, ``modified``) of its change events."""
    commit = FeedCommit.objects.filter(tenant=OuterRef("tenant"), txid=OuterRef("txid"))
    events = (
        ChangeEvent.objects.filter(shop=shop, entity="trade")
        .annotate(committed=Subquery(commit.values("committed_at")[:1]))
        .order_by("committed")
        .values_list("key", "committed", "modified")
    )
    by_tid: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for tid, committed, modified in events:
        by_tid[tid].append((committed.timestamp() + offset, modified.timestamp()))
    return by_tid


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
