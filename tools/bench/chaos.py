"""ordersync against the naive scheme (``naive.py``), side by side on one faulty sandbox; and
the chaos run the tests share.

A chaos run is never idle-proof by construction alone, so it is built to fail an engine
that does nothing while the faults are on: the overlap is scaled to the run (a few seconds,
not the 300 s that would re-read the whole run at the end), part of the changes lag longer
than the configured lag, and every few seconds while the faults are on the run checks that
every change old enough (its own lag, at least the configured one, plus a grace of about
one interval) is stored with the sandbox's content (``tools.bench.oracle``); where the
rounds run the engine in process, a change must also have had two of its complete rounds
since a window could hold it, so slow rounds under stacked faults are not counted late.

In the benchmark, two sellers of the same sandbox get the same market and live through the
same faults. Each round runs an ordersync sync of both streams for one seller and a naive
sync of both for the other. Then the market and the faults stop and both get a first quiet
pass after the visibility lag; what is missing or stale there measures how far behind a side
was. Each side's passes then go on until its store equals the ground truth by content (it has
caught up) or a cap (``CatchUp``), and the comparisons go on until the last change is past the
lists' lag: what is missing or stale at the end is lost.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.test.utils import override_settings

from ordersync.sandbox.scenarios import SCENARIOS
from ordersync.taobao.client import TopClient
from ordersync.taobao.retry import RetryPolicy
from ordersync.taobao.types import PLATFORM_TZ, format_time, parse_time
from shops.models import Checkpoint, SyncRun
from shops.top import app_credentials
from tools.bench import oracle
from tools.bench.naive import naive_sync, naive_sync_refunds
from trades.sync.incremental import sync_shop

FULLINFO = "taobao.trade.fullinfo.get"

# The chaos scenario's faults are listed once, one line each, in the sandbox's ``chaos``
# scenario (ordersync/sandbox/scenarios.py); a chaos run takes them all with these durations
# shortened so it lasts seconds, not minutes: hangs 35 s -> 3 s, bans 3 s -> 1 s, slow
# answers 2 s -> 0.5 s, clock skew 30 s -> 3 s, a shop's rejection 180 s -> 3 s, the later
# of two same-second versions visible 5 s -> 2 s after the first, the lag's heavy tail
# 30 s / 600 s at most -> 2 s / 12 s at most (beyond lag + overlap). The constant part of
# the lag comes from the run's Timing.
SHORTER = {
    "hang_seconds": 3,
    "ban_seconds": 1,
    "slow_seconds": 0.5,
    "skew_seconds": 3,
    "rejection_seconds": 3,
    "same_second_delay_seconds": 2,
    "lag_tail_seconds": 2,
    "lag_max_seconds": 12,
}
# The chaos scenario's market is 30 new trades, 60 changes and 6 refunds a minute; thirty
# times that, so a run of seconds sees hundreds of changes.
MARKET = {"trades_per_minute": 900, "changes_per_minute": 1800, "refunds_per_minute": 180}
QUIET = {"trades_per_minute": 0, "changes_per_minute": 0, "refunds_per_minute": 0}


@dataclass(frozen=True)
class Timing:
    """A chaos run's clock, scaled to its length (seconds)."""

    lag: int = 3  # SYNC_LAG_SECONDS
    overlap: int = 4  # SYNC_OVERLAP_SECONDS: a few intervals, far less than the run
    interval: float = 1.0  # between two sync rounds
    # how long after a change could first be listed it must be stored: one interval, the
    # round that lists it, and one failed round under faults (a hang, a ban, a rejection); the
    # seconds a rejection refuses the shop's searches do not count (oracle.due_by)
    grace: float = 8.0
    check_every: float = 3.0  # the during-run check, and the sandbox's lag switching

    @property
    def sandbox_lags(self) -> tuple[int, int]:
        """The sandbox's lag, switched at every check so part of the changes lag longer than
        the configured lag: below it, then above it (within lag + overlap, which the overlap
        is there to cover; a longer tail needs late-arrival detection)."""
        return (max(0, self.lag - 1), self.lag + self.overlap - 1)

    def settings(self) -> dict:
        # a sweep of the trailing span finds what the lag tail hid from the windows
        return {
            "SYNC_LAG_SECONDS": self.lag,
            "SYNC_OVERLAP_SECONDS": self.overlap,
            "SYNC_SWEEP_SECONDS": 60,
            "SYNC_SWEEP_PERIOD_SECONDS": 3,
        }


# what a side's first quiet pass after the market left behind, kept beside the end's figures
FIRST_PASS = (
    "trades_lost",
    "trades_missing",
    "trades_stale",
    "refunds_lost",
    "refunds_missing",
    "refunds_stale",
    "api_calls",
    "sync_seconds",
)


@dataclass(frozen=True)
class CatchUp:
    """How long the passes after the market may go on for a side that has not caught up."""

    seconds: float = 1800.0
    passes: int = 500


def chaos_faults(timing: Timing) -> dict:
    """Every fault of the sandbox's ``chaos`` scenario, durations shortened for ``timing``."""
    return {**SCENARIOS["chaos"]["faults"], **SHORTER, "lag_seconds": timing.sandbox_lags[0]}


def run_chaos(
    sandbox,
    nicks: list[str],
    *,
    seconds: float,
    timing: Timing,
    sync_round: Callable[[], None],
    check: Callable[[], int],
    faults: dict | None = None,
    market: dict | None = None,
    final_round: Callable[[], None] | None = None,
    stalls_excused: bool = False,
    rounds: list[datetime] | None = None,
) -> dict:
    """Run ``sync_round`` every ``timing.interval`` through ``seconds`` of market and faults
    and then the faults alone until every change is due, calling ``check`` (which returns
    how many records it found due, and raises or records what is late) every
    ``timing.check_every`` while the faults are on; then stop them, wait out the lag and run
    ``final_round`` (``sync_round`` by default). With ``stalls_excused`` (for rounds that
    only queue work, the engine running elsewhere), a round far later than its interval
    puts the next check a grace later (:func:`_stalled`). With ``rounds`` (for rounds that
    run the engine in process), the platform time at which each completed round started is
    appended to it, for ``check`` to count the engine's rounds (``oracle.due_by``). Returns
    what happened."""
    faults = faults or chaos_faults(timing)
    skew = faults.get("skew_seconds", 0)
    # The platform's clock is skewed from the start, as a real one is.
    sandbox.control("faults", {"skew_seconds": skew})
    sync_round()  # the first run only sets the cursors
    for nick in nicks:
        sandbox.control("market", {"nick": nick, **(market or MARKET)})
    sandbox.control("faults", faults)
    lags = itertools.cycle(timing.sandbox_lags[1:] + timing.sandbox_lags[:1])
    started = time.monotonic()
    next_check = started + timing.check_every
    # After the market stops, the faults stay on until every change it made is due, so the
    # checks while the faults are on cover them all.
    drain = seconds + max(timing.sandbox_lags) + timing.grace + timing.check_every
    count = checks = due = rounds_after_market = stalls = 0
    # The market stops on time even while a round takes longer than the whole market (a
    # burst the engine falls behind on): a check between rounds would let it run on.
    market = MarketStop(sandbox, nicks, seconds)
    last_round = time.monotonic()
    try:
        while time.monotonic() - started < drain:
            tick = time.monotonic()
            rounds_after_market += bool(market.stopped_at)
            _timed_round(sandbox, sync_round, rounds)
            count += 1
            if stalls_excused and _stalled(last_round, timing):
                stalls += 1
                next_check = max(next_check, time.monotonic() + timing.grace)
            last_round = time.monotonic()
            if time.monotonic() >= next_check:
                sandbox.control("faults", {"lag_seconds": next(lags)})
                due = max(due, check())
                checks += 1
                next_check += timing.check_every
            time.sleep(max(0.0, timing.interval - (time.monotonic() - tick)))
    finally:
        market.stop()
    injected = sandbox.control("stats")["errors_injected"]
    sandbox.control("faults", {"reset": True, "skew_seconds": skew})
    faults_off = time.monotonic()
    # the first quiet pass comes late enough for every change of the configured lags, even
    # for a scheme whose "now" is the local clock (behind the platform's by the skew); the
    # heavy tail of the lag is left to the passes that follow (``catch_up``)
    time.sleep(max(timing.sandbox_lags) + max(0, skew) + 1)
    (final_round or sync_round)()
    return {
        "seconds": seconds,
        "market_seconds": round(market.stopped_at - started, 1),
        "market_stopped_at": market.stopped_at,  # time.monotonic()
        "faults_on_seconds_after_market": round(faults_off - market.stopped_at, 1),
        "faults_off_at": faults_off,  # time.monotonic()
        "rounds": count,
        "rounds_after_market": rounds_after_market,
        "checks_during_run": checks,
        "stalls": stalls,
        "due_at_last_check": due,
        "errors_injected": sum(injected.values()),
        "sync_lag_seconds": timing.lag,
        "sync_overlap_seconds": timing.overlap,
        "sandbox_lag_seconds": list(timing.sandbox_lags),
        "grace_seconds": timing.grace,
    }


def _timed_round(sandbox, sync_round: Callable[[], None], starts: list[datetime] | None) -> None:
    """Run one round; with ``starts``, append the platform time it started at once it ends
    (one loopback call: the sandbox's clock, skew included, is the one the oracle reads)."""
    if starts is None:
        sync_round()
        return
    started = oracle.platform_now(sandbox)
    sync_round()
    starts.append(started)


class MarketStop:
    """Stops the sellers' market ``seconds`` after it is made, from a timer thread, and
    knows when it stopped (``time.monotonic()``; 0 while it runs)."""

    def __init__(self, sandbox, nicks: list[str], seconds: float) -> None:
        self.sandbox, self.nicks = sandbox, nicks
        self.stopped_at = 0.0
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self.stop)
        self.timer.daemon = True
        self.timer.start()

    def stop(self) -> None:
        with self.lock:
            if self.stopped_at:
                return
            for nick in self.nicks:
                self.sandbox.control("market", {"nick": nick, **QUIET})
            self.stopped_at = time.monotonic()
        self.timer.cancel()


def _stalled(last_round: float, timing: Timing) -> bool:
    """Whether this round came so late after the last one that the host stalled: the loop
    that queues the rounds and checks, the database and the sync workers alike (a saturated
    host froze all of them for 28 s once, the cluster processing nothing). What could be
    listed during the stall gets its grace after it, so the next check waits that long; the
    later checks and the final one still see every change. Not for rounds that sync in
    process: there a late round is the engine's own time."""
    return time.monotonic() - last_round > timing.interval + timing.grace / 2


def compare_with_chaos(
    world, seconds: float, interval: float = 1.0, cap: CatchUp = CatchUp()
) -> dict:
    """Run both schemes for ``seconds`` of chaos; return their losses, calls and times."""
    timing = Timing(interval=interval)
    faults = chaos_faults(timing)
    figures = side_by_side(world, "chaos", MARKET, faults, seconds, timing, cap=cap)
    return {
        "scenario": "chaos (sandbox), durations shortened, market x30",
        "faults": faults,
        "market_per_minute": MARKET,
        **figures,
    }


def compare_with_burst(
    world, trades: int, minutes: float, interval: float = 2.0, cap: CatchUp = CatchUp()
) -> dict:
    """A Double 11 burst: ``trades`` new trades in ``minutes``, each changed about once more,
    under the ``double11`` scenario's faults (peak-mode lists without sub-orders, visibility
    lag, ``isp`` errors, slow answers) with the lag shortened to 5 s and slow answers to 0.3 s."""
    per_minute = trades / minutes
    market = {
        "trades_per_minute": per_minute,
        "changes_per_minute": per_minute,
        "refunds_per_minute": per_minute / 100,
    }
    timing = Timing(lag=5, overlap=6, interval=interval, grace=4 * interval + 6, check_every=10)
    faults = {
        **SCENARIOS["double11"]["faults"],
        "lag_seconds": timing.sandbox_lags[0],
        "slow_seconds": 0.3,
        "skew_seconds": 3,
    }
    # peak-mode lists lack sub-orders: every listed trade costs a trade.fullinfo.get
    fan_out = {"SYNC_FULLINFO_CONCURRENCY": 16}
    figures = side_by_side(world, "d11", market, faults, minutes * 60, timing, fan_out, cap)
    ours = figures["ordersync"]
    # the naive scheme never completes a list entry: every fullinfo call is ordersync's
    calls = world.sandbox.control("stats")["calls"]
    ours["fullinfo_calls"] = calls.get(FULLINFO, {}).get(world.app.app_key, 0)
    ours["fullinfo_per_changed_trade"] = round(ours["fullinfo_calls"] / max(ours["trades"], 1), 3)
    return {
        "scenario": f"double11 (sandbox): {trades:,} new trades in {minutes:g} min",
        "faults": faults,
        "market_per_minute": market,
        **figures,
    }


def side_by_side(
    world,
    name: str,
    market: dict,
    faults: dict,
    seconds: float,
    timing: Timing,
    overrides=None,
    cap: CatchUp = CatchUp(),
) -> dict:
    """Two sellers of one sandbox with the same market and faults: one synced by ordersync, one
    by the naive scheme, in one loop, both checked by content while the faults are on; then a
    first quiet pass after the lag (its count kept as ``first_pass``), each side's passes until
    it has caught up (``catch_up``), and the count."""
    sandbox = world.sandbox
    ours = world.shop(f"{name}-ordersync")
    naive_shop = world.shop(f"{name}-naive")
    naive = NaiveSide(naive_shop)
    engine = EngineSide(ours)
    timing_settings = {**timing.settings(), "TOP_BACKOFF_CAP": 0.2, "TOP_READ_TIMEOUT": 5}

    def both() -> None:
        engine.round()
        naive.round()

    rounds: list[datetime] = []  # the engine runs in process: its rounds count (due_by)

    def check() -> int:
        now = oracle.platform_now(sandbox)
        due = oracle.due_by(now, timing.lag, timing.grace, rounds=rounds)
        naive.late(sandbox, due)
        return engine.late(sandbox, due)

    sides = {"ordersync": engine, "naive": naive}
    with override_settings(**timing_settings, **(overrides or {})):
        run = run_chaos(
            sandbox,
            [ours.seller_nick, naive_shop.seller_nick],
            seconds=seconds,
            timing=timing,
            sync_round=both,
            check=check,
            faults=faults,
            market=market,
            rounds=rounds,
        )
        first = {name: side.figures(sandbox) for name, side in sides.items()}
        settle = settled_at(sandbox, sides.values(), run.pop("faults_off_at"), timing, faults)
        caught = catch_up(sandbox, sides, run.pop("market_stopped_at"), settle, timing, cap)
    figures = {name: side.figures(sandbox) for name, side in sides.items()}
    for name, side in figures.items():
        side |= caught.pop(name)
        side["first_pass"] = {key: first[name][key] for key in FIRST_PASS}
    return {
        **run,
        **caught,
        "largest_lag_seconds": largest_lag(faults, timing),
        "settled_at": format_time(settle),
        **figures,
    }


def largest_lag(faults: dict, timing: Timing) -> float:
    """The longest a change made while the faults were on can stay out of the lists: the
    sandbox's switched lag or its heavy tail's cap, a same-second version's delay after the
    first, and a shop's rejection spell it may fall in."""
    lag = max(*timing.sandbox_lags, faults.get("lag_seconds", 0))
    if faults.get("lag_tail_rate"):
        lag = max(lag, faults.get("lag_max_seconds", 600))
    if faults.get("same_second_rate"):
        lag += faults.get("same_second_delay_seconds", 5)
    if faults.get("rejection_rate"):
        lag += faults.get("rejection_seconds", 180)
    return lag


def settled_at(sandbox, sides, faults_off: float, timing: Timing, faults: dict) -> datetime:
    """The platform time from which every record's current version can be listed by either
    side: the last to become listable, by the oracle and by the sandbox's largest lag after
    the last change could be made (the faults stopped at ``faults_off``, a
    ``time.monotonic()``), plus the configured lag the engine's windows keep and the skew a
    scheme on the local clock trails by."""
    now = oracle.platform_now(sandbox)
    off = now - timedelta(seconds=time.monotonic() - faults_off)
    listable = [
        parse_time(row.get("listable_at", row["visible_at"]))
        for side in sides
        for kind in oracle.KINDS
        for row in oracle.truth(sandbox, side.shop.seller_nick, kind).values()
    ]
    last = max([*listable, off + timedelta(seconds=largest_lag(faults, timing))])
    skew = max(0, faults.get("skew_seconds", 0))
    return last + timedelta(seconds=timing.lag + skew + 1)


def catch_up(
    sandbox, sides: dict, market_stopped: float, settle: datetime, timing: Timing, cap: CatchUp
) -> dict:
    """After the first quiet pass: each side not caught up (its store equal to the ground
    truth by content) runs one more pass every ``timing.interval``, until it has caught up
    or ``cap``. The comparisons go on until platform time ``settle``, so the last one comes
    after every change could be listed; a side that has not caught up by then and gains
    nothing from a pass has nothing left to find. Returns, per side, whether and when it
    caught up (seconds after the market stopped, quiet passes, the first one included) and
    the cap's figures."""
    began = time.monotonic()
    left = dict(sides)
    passes = dict.fromkeys(sides, 1)
    found: dict[str, dict] = {}
    lost: dict[str, int] = {}
    equal_since: dict[str, dict] = {}  # the comparison that first found a side caught up
    while left:
        settled = oracle.platform_now(sandbox) >= settle
        for name, side in list(left.items()):
            now_lost = side.lost_now(sandbox)
            if now_lost:
                equal_since.pop(name, None)
            else:
                equal_since.setdefault(name, _caught(0, passes[name], market_stopped))
            stalled = side.stops_when_stalled and settled and lost.get(name) == now_lost
            if settled and (not now_lost or stalled):
                found[name] = equal_since.get(name) or _caught(
                    now_lost, passes[name], market_stopped
                )
                del left[name]
            lost[name] = now_lost
        out_of_time = time.monotonic() - began > cap.seconds
        if not left or out_of_time or max(passes[name] for name in left) >= cap.passes:
            break
        tick = time.monotonic()
        for name, side in left.items():
            side.round()
            passes[name] += 1
        time.sleep(max(0.0, timing.interval - (time.monotonic() - tick)))
    for name in left:  # capped
        found[name] = _caught(lost[name], passes[name], market_stopped)
    return {
        **found,
        "catch_up_cap_seconds": cap.seconds,
        "catch_up_cap_passes": cap.passes,
        "catch_up_wall_seconds": round(time.monotonic() - began, 1),
        "last_comparison_seconds": round(time.monotonic() - market_stopped, 1),
    }


def _caught(lost: int, passes: int, market_stopped: float) -> dict:
    """A side's catch-up figures as of now: seconds after the market stopped, passes."""
    seconds = round(time.monotonic() - market_stopped, 1)
    return {
        "caught_up": lost == 0,
        "catch_up_passes": passes,
        "catch_up_seconds": seconds if lost == 0 else None,
        "passes_ended_seconds": seconds,
    }


class Side:
    """What both schemes report: their store against the oracle, during the run and at the
    end, and the API calls they spent."""

    shop = None
    # once every change can be listed, a pass that finds nothing is this side's last
    stops_when_stalled = True
    seconds = 0.0
    late_max = 0  # the most records found late (missing or stale) by one during-run check

    def store(self, kind: oracle.Kind) -> dict[int, dict]:
        raise NotImplementedError

    def calls(self) -> dict[str, int]:
        raise NotImplementedError

    def late(self, sandbox, due) -> int:
        """Count the records ``due`` says must be stored by now that are not; return how
        many were due."""
        diffs = [
            oracle.compare(
                kind, oracle.truth(sandbox, self.shop.seller_nick, kind), self.store(kind), due
            )
            for kind in oracle.KINDS
        ]
        self.late_max = max(self.late_max, oracle.lost(diffs))
        return sum(diff.checked for diff in diffs)

    def lost_now(self, sandbox) -> int:
        """Records missing or stale by content now, of every record the platform holds."""
        nick = self.shop.seller_nick
        return oracle.lost(
            oracle.compare(kind, oracle.truth(sandbox, nick, kind), self.store(kind))
            for kind in oracle.KINDS
        )

    def figures(self, sandbox) -> dict:
        nick = self.shop.seller_nick
        trades, refunds = (
            oracle.compare(kind, oracle.truth(sandbox, nick, kind), self.store(kind))
            for kind in oracle.KINDS
        )
        calls = self.calls()
        total_calls = calls["trades"] + calls["refunds"]
        changed = trades.checked + refunds.checked
        return {
            "trades": trades.checked,
            "refunds": refunds.checked,
            "trades_lost": trades.lost,
            "trades_missing": len(trades.missing),
            "trades_stale": len(trades.stale),
            "refunds_lost": refunds.lost,
            "refunds_missing": len(refunds.missing),
            "refunds_stale": len(refunds.stale),
            "late_during_run": self.late_max,
            "api_calls": total_calls,
            "api_calls_trades": calls["trades"],
            "api_calls_refunds": calls["refunds"],
            "api_calls_per_changed_trade": round(calls["trades"] / max(trades.checked, 1), 3),
            "api_calls_per_changed_refund": round(calls["refunds"] / max(refunds.checked, 1), 3),
            "api_calls_per_changed_record": round(total_calls / max(changed, 1), 3),
            "sync_seconds": round(self.seconds, 2),
        }


class EngineSide(Side):
    stops_when_stalled = False  # its passes go on while it is behind: only the cap ends them

    def __init__(self, shop) -> None:
        self.shop = shop

    def round(self) -> None:
        started = time.perf_counter()
        for stream in ("trades", "refunds"):
            sync_shop(self.shop, stream)
        # a failed window backs off; the benchmark's rounds are its schedule
        Checkpoint.objects.filter(shop=self.shop).update(next_run_at=None)
        self.seconds += time.perf_counter() - started

    def store(self, kind: oracle.Kind) -> dict[int, dict]:
        return oracle.stored(self.shop, kind)

    def calls(self) -> dict[str, int]:
        runs = SyncRun.objects.filter(shop=self.shop, kind=SyncRun.Kind.INCREMENTAL)
        return {
            stream: sum(runs.filter(stream=stream).values_list("api_calls", flat=True))
            for stream in ("trades", "refunds")
        }


class NaiveSide(Side):
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
        self.stores: dict[str, dict[int, dict]] = {"trades": {}, "refunds": {}}

    def round(self) -> None:
        started = time.perf_counter()
        session = self.shop.session_key
        for stream, sync in (("trades", naive_sync), ("refunds", naive_sync_refunds)):
            self.starts[stream] = sync(
                self.clients[stream], session, self.starts[stream], self.stores[stream]
            )
        self.seconds += time.perf_counter() - started

    def store(self, kind: oracle.Kind) -> dict[int, dict]:
        return self.stores[kind.name]

    def calls(self) -> dict[str, int]:
        return {stream: client.calls for stream, client in self.clients.items()}
