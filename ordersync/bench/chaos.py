"""ordersync against the seed article's naive scheme, side by side on one faulty sandbox.

Two sellers of the same sandbox get the same market and live through the same faults (the
``chaos`` scenario's rates, its durations shortened so a run takes seconds, not minutes). In
one loop, each round runs an ordersync sync of both streams for one seller and a naive sync
of both for the other. Then the market and the faults stop, both get one last pass after the
visibility lag, and each side's store is compared with the sandbox's ground truth.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.test.utils import override_settings

from ordersync.bench.naive import naive_sync, naive_sync_refunds
from ordersync.sandbox.scenarios import SCENARIOS
from ordersync.taobao.client import TopClient
from ordersync.taobao.retry import RetryPolicy
from ordersync.taobao.types import PLATFORM_TZ
from shops.models import Checkpoint, SyncRun
from shops.top import app_credentials
from trades.models import Refund, Trade
from trades.sync.incremental import sync_shop

# The chaos scenario's durations, shortened (its rates are kept): lag 120 s -> 3 s, hangs
# 35 s -> 3 s, bans 3 s -> 1 s, slow answers 2 s -> 0.5 s, clock skew 30 s -> 3 s.
SHORTER = {
    "lag_seconds": 3,
    "hang_seconds": 3,
    "ban_seconds": 1,
    "slow_seconds": 0.5,
    "skew_seconds": 3,
}
# The chaos scenario's market is 30 new trades, 60 changes and 6 refunds a minute; thirty
# times that, so a run of seconds sees hundreds of changes.
MARKET = {"trades_per_minute": 900, "changes_per_minute": 1800, "refunds_per_minute": 180}
QUIET = {"trades_per_minute": 0, "changes_per_minute": 0, "refunds_per_minute": 0}


def chaos_faults() -> dict:
    return {**SCENARIOS["chaos"]["faults"], **SHORTER}


def compare_with_chaos(world, seconds: float, interval: float = 1.0) -> dict:
    """Run both schemes for ``seconds`` of chaos; return their losses, calls and times."""
    faults = chaos_faults()
    figures = side_by_side(world, "chaos", MARKET, faults, seconds, interval)
    return {
        "scenario": "chaos (sandbox), durations shortened, market x30",
        "faults": faults,
        "market_per_minute": MARKET,
        **figures,
    }


def compare_with_burst(world, trades: int, minutes: float, interval: float = 2.0) -> dict:
    """A Double 11 burst: ``trades`` new trades in ``minutes``, each changed about once more,
    under the ``double11`` scenario's faults (peak-mode lists without sub-orders, visibility
    lag, ``isp`` errors, slow answers) with the lag shortened to 5 s and slow answers to 0.3 s."""
    per_minute = trades / minutes
    market = {
        "trades_per_minute": per_minute,
        "changes_per_minute": per_minute,
        "refunds_per_minute": per_minute / 100,
    }
    faults = {
        **SCENARIOS["double11"]["faults"],
        "lag_seconds": 5,
        "slow_seconds": 0.3,
        "skew_seconds": 3,
    }
    # peak-mode lists lack sub-orders: every listed trade costs a trade.fullinfo.get
    fan_out = {"SYNC_FULLINFO_CONCURRENCY": 16}
    figures = side_by_side(world, "d11", market, faults, minutes * 60, interval, fan_out)
    return {
        "scenario": f"double11 (sandbox): {trades:,} new trades in {minutes:g} min, lag 5 s",
        "faults": faults,
        "market_per_minute": market,
        **figures,
    }


def side_by_side(
    world, name: str, market: dict, faults: dict, seconds: float, interval, overrides=None
) -> dict:
    """Two sellers of one sandbox with the same market and faults: one synced by ordersync, one
    by the naive scheme, in one loop; then a quiet last pass after the lag, and the count."""
    sandbox = world.sandbox
    lag = faults["lag_seconds"] + 1
    ours = world.shop(f"{name}-ordersync")
    naive_shop = world.shop(f"{name}-naive")
    naive = NaiveSide(naive_shop)
    engine = EngineSide(ours)
    # The platform's clock is skewed from the start, as a real one is; ordersync measures the
    # offset on its first call, the naive scheme never does.
    sandbox.control("faults", {"skew_seconds": faults["skew_seconds"]})
    tuned = {"SYNC_LAG_SECONDS": lag, "TOP_BACKOFF_CAP": 0.2, "TOP_READ_TIMEOUT": 5}
    with override_settings(**tuned, **(overrides or {})):
        engine.round()  # the first run only sets the cursors
        for shop in (ours, naive_shop):
            sandbox.control("market", {"nick": shop.seller_nick, **market})
        sandbox.control("faults", faults)
        started = time.monotonic()
        rounds = 0
        while time.monotonic() - started < seconds:
            tick = time.monotonic()
            engine.round()
            naive.round()
            rounds += 1
            time.sleep(max(0.0, interval - (time.monotonic() - tick)))
        for shop in (ours, naive_shop):
            sandbox.control("market", {"nick": shop.seller_nick, **QUIET})
        injected = sandbox.control("stats")["errors_injected"]
        sandbox.control("faults", {"reset": True, "skew_seconds": faults["skew_seconds"]})
        # the last pass comes late enough for both: the naive scheme's local "now" trails the
        # platform's by the skew
        time.sleep(lag + max(0, faults["skew_seconds"]) + 1)
        engine.round()
        naive.round()
    return {
        "seconds": seconds,
        "rounds": rounds,
        "errors_injected": sum(injected.values()),
        "sync_lag_seconds": lag,
        "ordersync": engine.figures(sandbox),
        "naive": naive.figures(sandbox),
    }


class EngineSide:
    def __init__(self, shop) -> None:
        self.shop = shop
        self.seconds = 0.0
        self.since = None

    def round(self) -> None:
        started = time.perf_counter()
        for stream in ("trades", "refunds"):
            run = sync_shop(self.shop, stream)
            self.since = self.since or run.started_at
        # a failed window backs off; the benchmark's rounds are its schedule
        Checkpoint.objects.filter(shop=self.shop).update(next_run_at=None)
        self.seconds += time.perf_counter() - started

    def figures(self, sandbox) -> dict:
        runs = SyncRun.objects.filter(shop=self.shop, kind=SyncRun.Kind.INCREMENTAL)
        calls = {
            stream: sum(runs.filter(stream=stream).values_list("api_calls", flat=True))
            for stream in ("trades", "refunds")
        }
        trades = {
            t.tid: (t.status, _wire(t.modified)) for t in Trade.objects.filter(shop=self.shop)
        }
        refunds = {
            r.refund_id: (r.status, _wire(r.modified))
            for r in Refund.objects.filter(shop=self.shop)
        }
        return _figures(sandbox, self.shop.seller_nick, trades, refunds, calls, self.seconds)


class NaiveSide:
    def __init__(self, shop) -> None:
        self.shop = shop
        credentials = app_credentials(shop.app)
        # the naive scheme does not retry: a failed call just ends the window
        self.clients = {
            stream: TopClient(credentials, policy=RetryPolicy(max_attempts=1), read_timeout=5)
            for stream in ("trades", "refunds")
        }
        now = datetime.now(PLATFORM_TZ).replace(microsecond=0)
        self.starts = {"trades": now, "refunds": now}
        self.trades: dict[int, dict] = {}
        self.refunds: dict[int, dict] = {}
        self.seconds = 0.0

    def round(self) -> None:
        started = time.perf_counter()
        session = self.shop.session_key
        self.starts["trades"] = naive_sync(
            self.clients["trades"], session, self.starts["trades"], self.trades
        )
        self.starts["refunds"] = naive_sync_refunds(
            self.clients["refunds"], session, self.starts["refunds"], self.refunds
        )
        self.seconds += time.perf_counter() - started

    def figures(self, sandbox) -> dict:
        trades = {tid: (t.get("status"), t.get("modified")) for tid, t in self.trades.items()}
        refunds = {rid: (r.get("status"), r.get("modified")) for rid, r in self.refunds.items()}
        calls = {stream: client.calls for stream, client in self.clients.items()}
        return _figures(sandbox, self.shop.seller_nick, trades, refunds, calls, self.seconds)


def _figures(sandbox, nick: str, trades: dict, refunds: dict, calls: dict, seconds) -> dict:
    truth_trades = {
        t["tid"]: (t["status"], t["modified"])
        for t in sandbox.control(f"oracle/trades?nick={nick}")["trades"]
    }
    truth_refunds = {
        int(r["refund_id"]): (r["status"], r["modified"])
        for r in sandbox.control(f"oracle/refunds?nick={nick}")["refunds"]
    }
    lost_trades = _lost(truth_trades, trades)
    lost_refunds = _lost(truth_refunds, refunds)
    total_calls = calls["trades"] + calls["refunds"]
    changed = len(truth_trades) + len(truth_refunds)
    return {
        "trades": len(truth_trades),
        "refunds": len(truth_refunds),
        "trades_lost": lost_trades["missing"] + lost_trades["stale"],
        "trades_missing": lost_trades["missing"],
        "trades_stale": lost_trades["stale"],
        "refunds_lost": lost_refunds["missing"] + lost_refunds["stale"],
        "refunds_missing": lost_refunds["missing"],
        "refunds_stale": lost_refunds["stale"],
        "api_calls": total_calls,
        "api_calls_trades": calls["trades"],
        "api_calls_refunds": calls["refunds"],
        "api_calls_per_changed_trade": round(calls["trades"] / max(len(truth_trades), 1), 3),
        "api_calls_per_changed_record": round(total_calls / max(changed, 1), 3),
        "sync_seconds": round(seconds, 2),
    }


def _lost(truth: dict, ours: dict) -> dict:
    """Missing: never stored; stale: stored, but not in its latest version."""
    missing = truth.keys() - ours.keys()
    stale = [key for key in truth.keys() & ours.keys() if truth[key] != ours[key]]
    return {"missing": len(missing), "stale": len(stale)}


def _wire(value: datetime) -> str:
    return value.astimezone(PLATFORM_TZ).strftime("%Y-%m-%d %H:%M:%S")
