"""What the market does over time: history at seller creation, random live changes at given
rates (a background thread in real time, or stepped with the clock), and Double 11 bursts."""

from __future__ import annotations

import gc
import threading
import time
from typing import TYPE_CHECKING

from ordersync.sandbox import lifecycle
from ordersync.sandbox.clock import REAL
from ordersync.sandbox.market import TERMINAL, Refund, Seller, TradeRecord
from ordersync.sandbox.stock import Demand, draw_times

if TYPE_CHECKING:
    from ordersync.sandbox.world import World

# Mean time a trade waits in a status before its next step, in seconds (history only).
MEAN_WAIT = {
    "WAIT_BUYER_PAY": 20 * 60,
    "WAIT_SELLER_SEND_GOODS": 16 * 3600,
    "SELLER_CONSIGNED_PART": 10 * 3600,
    "WAIT_BUYER_CONFIRM_GOODS": 3 * 86400,
    "TRADE_BUYER_SIGNED": 86400,
}


def simulate_history(world: World, seller: Seller, count: int, days: float, now: float) -> None:
    """Create ``count`` trades spread over the last ``days`` and replay their lifecycles up
    to ``now``, so that every version lies in the past."""
    rng = seller.rng
    demand = seller.stock.demand if seller.stock is not None else Demand()
    starts = draw_times(rng, demand, count, days, now)
    seller.bulk = True
    # The replay makes millions of long-lived objects and no garbage cycles: the collector's
    # passes over them (each longer as the history grows) cost more than the replay itself.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for created in starts:
            trade = lifecycle.new_trade(seller, world.ids, created, 0)
            _replay(world, seller, trade, created, now)
            trade.rest()  # its state lives on as its newest version
    finally:
        seller.bulk = False
        seller.resort(now)
        if collecting:
            gc.enable()


def _replay(world: World, seller: Seller, trade: TradeRecord, t: float, now: float) -> None:
    rng = seller.rng
    while True:
        state = trade.state
        open_refunds = [
            seller.refunds[o["refund_id"]]
            for o in state["orders"]
            if o.get("refund_id")
            and seller.refunds[o["refund_id"]].status not in ("SUCCESS", "CLOSED")
        ]
        if state["status"] in TERMINAL and not open_refunds:
            return
        t += rng.expovariate(1.0 / MEAN_WAIT.get(state["status"], 86400))
        if t >= now:
            return
        if open_refunds:
            lifecycle.advance_refund(seller, open_refunds[0], t, 0)
        elif lifecycle.refundable(trade) and rng.random() < 0.12:
            lifecycle.start_refund(seller, world.ids, trade, t, 0)
        elif not lifecycle.advance(seller, trade, t, 0):
            return


def random_change(world: World, seller: Seller, ts: float) -> None:
    """Advance one random open trade (or edit its memo when it cannot move)."""
    trade = _pick_open(seller)
    if trade is None:
        return
    change_trade(world, seller, trade, ts)


SHIPPABLE = ("WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS", "SELLER_CONSIGNED_PART")


def ship(world: World, seller: Seller, count: int, ts: float) -> int:
    """Move up to ``count`` open trades on until every sub-order is consigned (some close
    unpaid on the way, as trades do); return how many were shipped."""
    shipped = 0
    for trade in list(seller.open_trades):
        if shipped >= count:
            break
        for _ in range(6):  # pay (a presale twice), consign (in parts), at most
            if trade.state["status"] not in SHIPPABLE:
                break
            lifecycle.advance(seller, trade, ts, 0)
        shipped += trade.state["status"] == "WAIT_BUYER_CONFIRM_GOODS"
    return shipped


def change_trade(world: World, seller: Seller, trade: TradeRecord, ts: float) -> None:
    """Advance ``trade`` (or edit its memo when it cannot move); with ``same_second_rate``,
    a second version follows in the same second, visible later."""
    faults = world.faults
    lag = world.draw_lag()
    if not lifecycle.advance(seller, trade, ts, lag):
        lifecycle.touch(seller, trade, ts, lag)
    if faults.same_second_rate and world.fault_rng.random() < faults.same_second_rate:
        world.injected["same_second"] += 1
        lifecycle.same_second(seller, trade, faults.same_second_delay_seconds)


def random_refund(world: World, seller: Seller, ts: float) -> None:
    """Open a refund on a random paid trade, or move an open refund on."""
    lag = world.draw_lag()
    if seller.open_refunds and seller.rng.random() < 0.5:
        refund = seller.rng.choice(seller.open_refunds)
        if lifecycle.advance_refund(seller, refund, ts, lag):
            refund_same_second(world, seller, refund, lag)
        return
    for _ in range(20):
        trade = _pick_open(seller)
        if trade is None:
            return
        refund = lifecycle.start_refund(seller, world.ids, trade, ts, lag)
        if refund is not None:
            refund_same_second(world, seller, refund, lag)
            return


def refund_same_second(world: World, seller: Seller, refund: Refund, lag: int) -> None:
    """With the ``same_second_rate`` fault: follow the refund's last change by a second
    version in the same ``modified`` second with different content (its next step, or a
    note when it has none), visible ``same_second_delay_seconds`` after the first."""
    faults = world.faults
    if not faults.same_second_rate or world.fault_rng.random() >= faults.same_second_rate:
        return
    not_before = refund.versions[-1].visible_at + max(1, faults.same_second_delay_seconds)
    world.injected["same_second"] += 1
    if not lifecycle.advance_refund(seller, refund, refund.modified, lag, not_before):
        lifecycle.amend_refund(seller, refund, lag, not_before)


def new_trades(world: World, seller: Seller, count: int, ts: float) -> None:
    for _ in range(count):
        lifecycle.new_trade(seller, world.ids, ts, world.draw_lag())


def _pick_open(seller: Seller) -> TradeRecord | None:
    for _ in range(20):
        if not seller.open_trades:
            return None
        trade = seller.rng.choice(seller.open_trades)
        if trade.state["status"] not in TERMINAL:
            return trade
        seller.open_trades.remove(trade)
    return None


def tick(world: World, elapsed: float) -> None:
    """Apply ``elapsed`` real seconds of live activity to every seller (lock held)."""
    now = world.clock.now()
    for seller in world.sellers.values():
        rates = seller.rates
        if not rates.active:
            continue
        rates.owed_trades += rates.trades_per_minute * elapsed / 60.0
        rates.owed_changes += rates.changes_per_minute * elapsed / 60.0
        rates.owed_refunds += rates.refunds_per_minute * elapsed / 60.0
        while rates.owed_trades >= 1:
            rates.owed_trades -= 1
            lifecycle.new_trade(seller, world.ids, now, world.draw_lag())
        while rates.owed_changes >= 1:
            rates.owed_changes -= 1
            random_change(world, seller, now)
        while rates.owed_refunds >= 1:
            rates.owed_refunds -= 1
            random_refund(world, seller, now)


MAX_STEPS = 10_000  # a long advance takes longer steps


def advance(world: World, seconds: float, step: float = 1.0) -> None:
    """Move the clock on by ``seconds`` in steps of ``step``, the market acting at its rates
    in each step as it would have in real time (lock held)."""
    step = max(step, seconds / MAX_STEPS)
    left = seconds
    while left > 0:
        part = min(step, left)
        world.clock.advance(part)
        tick(world, part)
        left -= part
    world.clock_moved()


class LiveMarket(threading.Thread):
    """Background thread that keeps the market moving in real time (not while the clock is
    manual: then the market moves only with :func:`advance`)."""

    interval = 0.05

    def __init__(self, world: World) -> None:
        super().__init__(name="sandbox-market", daemon=True)
        self.world = world
        self.stopped = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        while not self.stopped.wait(self.interval):
            current = time.monotonic()
            with self.world.lock:
                if self.world.clock.mode == REAL:
                    tick(self.world, current - last)
            last = current

    def stop(self) -> None:
        self.stopped.set()
