"""The JDP Double 11 run: a burst for one seller with every push fault on, a live market
overwriting rows before they are pushed, ``manage.py jdp_consume`` in a real process killed
with SIGKILL again and again, and polling at the safety cadence beside it, scaled to the run.

At the end: the shop against the sandbox's oracle by content, the API calls per changed
trade (JDP makes none: they are the safety polling's), and freshness from the platform's
``modified`` to the change-feed commit that makes a version visible in the partner API.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

from tools.bench.oracle import KINDS, compare_shop, lost
from trades.sync.incremental import sync_shop

ROOT = Path(__file__).resolve().parents[2]
FAULTS = {
    "jdp_delay_seconds": 2,  # each change waits 0-2 s before it is pushed …
    "jdp_delay_tail_rate": 0.05,  # … one in twenty up to 20 s: overwritten before pushed
    "jdp_delay_max_seconds": 20,
    "jdp_reorder_rate": 0.3,  # stamped up to 3 s in the past: behind rows already read
    "jdp_reorder_seconds": 3,
    "same_second_rate": 0.1,  # two versions of a trade in one second
}
TRADE_METHODS = ("trades.sold", "trade.fullinfo", "trade.get")


@dataclass
class Run:
    kills: int = 0
    polls: int = 0
    poll_calls: dict[str, int] = field(default_factory=lambda: {"trades": 0, "refunds": 0})
    poll_wrote: int = 0
    overruns: int = 0  # safety-polling windows that outlived SYNC_WINDOW_TIME_LIMIT
    settled_after: float = float("nan")
    events: list[str] = field(default_factory=list)


class Consumer:
    """``manage.py jdp_consume --shop PK`` in its own process group; killed with SIGKILL."""

    def __init__(self, shop_pk: int, log: Path, batch: int) -> None:
        self.shop_pk, self.log, self.batch = shop_pk, log, batch
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "JDP_BATCH_SIZE": str(self.batch), "JDP_IDLE_SECONDS": "0.2"}
        env.update(LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "manage.py", "jdp_consume", "--shop", str(self.shop_pk)]
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(30)


def safety_poll(shop, run: Run) -> None:
    """One pass of the safety polling: trades and refunds, its API calls counted."""
    for stream in ("trades", "refunds"):
        outcome = sync_shop(shop, stream)
        run.poll_wrote += outcome.trades_written or 0
        run.poll_calls[stream] += outcome.api_calls or 0
        run.overruns += sum("outlived" in note for note in outcome.notes or [])
    run.polls += 1


def scale_polling(scale: float) -> None:
    """The polling's own windows shrink with the run's clock: overlap and sweep."""
    for name in ("SYNC_OVERLAP_SECONDS", "SYNC_SWEEP_SECONDS", "SYNC_SWEEP_PERIOD_SECONDS"):
        setattr(settings, name, max(1, round(getattr(settings, name) / scale)))


class Poller(threading.Thread):
    """The safety polling beside the consumer: a pass every ``every`` seconds."""

    def __init__(self, shop, run: Run, every: float) -> None:
        super().__init__(daemon=True)
        self.shop, self.run_, self.every = shop, run, every
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.wait(self.every):
                safety_poll(self.shop, self.run_)
        finally:
            connection.close()


def double11(sandbox, shop, opts, say) -> tuple[Run, list]:
    """The run; return it and the oracle's diffs at the end."""
    sandbox.control("faults", {**FAULTS, "jdp_push_per_second": opts["push_per_second"]})
    run, rng = Run(), random.Random(11)
    consumer = Consumer(shop.pk, Path(opts["log"]), opts["batch"])
    poll_every = opts["safety_poll_minutes"] * 60 / opts["scale"]
    scale_polling(opts["scale"])
    safety_poll(shop, run)  # the cursor starts before the burst
    poller = Poller(shop, run, poll_every)
    consumer.start()
    say(
        f"burst of {opts['trades']:,} trades, market on {opts['market_seconds']:.0f}s, "
        f"safety poll every {poll_every:.0f}s, consumer killed {opts['kills']} times …"
    )
    rates = {"changes_per_minute": opts["changes_per_minute"], "refunds_per_minute": 600}
    sandbox.control("market", {"nick": shop.seller_nick, **rates})
    started = time.monotonic()
    sandbox.control("market", {"nick": shop.seller_nick, "burst": opts["trades"]})
    say(f"  burst generated in {time.monotonic() - started:.1f}s")
    poller.start()
    try:
        _drive(sandbox, shop, opts, run, rng, consumer, started)
    finally:
        consumer.kill(signal.SIGTERM)
        poller.stop.set()
        poller.join()
    return run, compare_shop(sandbox, shop, kinds=KINDS)


def _drive(sandbox, shop, opts, run, rng, consumer, started) -> None:
    market_end = started + opts["market_seconds"]
    kill_at = _kill_times(rng, started, market_end, opts["kills"])
    next_check = market_end
    deadline = market_end + opts["settle_seconds"]
    market_on = True
    while time.monotonic() < deadline:
        now = time.monotonic()
        if market_on and now >= market_end:
            stop = dict.fromkeys(("changes_per_minute", "refunds_per_minute"), 0)
            sandbox.control("market", {"nick": shop.seller_nick, **stop})
            market_on = False
        if kill_at and now >= kill_at[0]:
            kill_at.pop(0)
            consumer.kill()
            run.kills += 1
            consumer.start()
        if not market_on and not kill_at and now >= next_check:
            if _settled(sandbox, shop):
                run.settled_after = time.monotonic() - started
                return
            next_check = time.monotonic() + 5
        time.sleep(0.1)


def _kill_times(rng, start: float, end: float, count: int) -> list[float]:
    return sorted(rng.uniform(start + 2, end) for _ in range(count))


def _settled(sandbox, shop) -> bool:
    """The push drained and the shop equals the oracle."""
    if sandbox.control("jdp")["pending"]:
        return False
    return lost(compare_shop(sandbox, shop, kinds=KINDS)) == 0


def trade_calls(stats: dict) -> int:
    """Calls to the trade APIs (lists and details), all apps."""
    return sum(
        sum(apps.values())
        for method, apps in stats["calls"].items()
        if any(name in method for name in TRADE_METHODS)
    )


def calls_by_method(before: dict, after: dict) -> dict[str, int]:
    """The run's calls per API method (all apps), most first."""

    def total(stats: dict, method: str) -> int:
        return sum(stats["calls"].get(method, {}).values())

    counts = {m: total(after, m) - total(before, m) for m in after["calls"]}
    return dict(sorted(((m, n) for m, n in counts.items() if n), key=lambda i: -i[1]))
