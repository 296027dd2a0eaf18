"""The JDP chaos test: the push delays, overwrites, reorders and ties rows, throttles, and
the consumer dies between writing a batch and moving its checkpoint; at the end every trade
and refund is stored with the oracle's content.

The proof can fail: ``JDP_BREAK=overlap`` runs it with no overlap, ``JDP_BREAK=checkpoint``
with the checkpoint moved before the write (and the crash between the two); both lose
records (docs/jdp.md shows their output).
"""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.support.oracle import assert_matches_oracle
from trades.jdp import consumer, runner

from .conftest import consume, wait_pushed

BREAK = os.environ.get("JDP_BREAK", "")  # "", "overlap" or "checkpoint"
FAULTS = {
    "jdp_delay_seconds": 2,  # each change waits 0-2 s before it is pushed …
    "jdp_delay_tail_rate": 0.1,  # … a tenth up to 6 s: later changes overwrite earlier ones
    "jdp_delay_max_seconds": 6,
    "jdp_reorder_rate": 0.3,  # stamped up to 3 s in the past: behind rows already read
    "jdp_reorder_seconds": 3,
    "jdp_push_per_second": 15,  # throttled: a backlog builds in the burst
    "same_second_rate": 0.1,  # two versions of a trade in one second
}
CRASH_RATE = 0.3


class Crash(Exception):
    """The consumer dies here (its pass ends; the next pass is a restart)."""


@pytest.fixture
def crashes(monkeypatch):
    """Kill the consumer between the write of a batch and the move of its checkpoint (or,
    with ``JDP_BREAK=checkpoint``, between the move and the write), a share of the time."""
    rng, state = random.Random(1), {"rate": CRASH_RATE, "count": 0}  # the first batch dies
    write, advance = consumer.write_batch, consumer.advance

    def maybe_crash() -> None:
        if rng.random() < state["rate"]:
            state["count"] += 1
            raise Crash()

    def crashing_advance(*args) -> None:
        maybe_crash()
        advance(*args)

    def checkpoint_first(shop, table, rows, checkpoint_pk, result, seen) -> None:
        set_aside = consumer.SetAside()
        advance(checkpoint_pk, rows, set_aside)
        maybe_crash()
        write(shop, table, seen.new(table, rows), set_aside)
        seen.add(table, rows)
        result.rows += len(rows)

    if BREAK == "checkpoint":
        monkeypatch.setattr(consumer, "consume_batch", checkpoint_first)
    else:
        monkeypatch.setattr(consumer, "advance", crashing_advance)
    return state


@pytest.mark.e2e
def test_consumer_ends_with_the_oracle_content(gateway, enrolled_shop, settings, crashes):
    settings.JDP_BATCH_SIZE = 100
    settings.JDP_OVERLAP_SECONDS = 0 if BREAK == "overlap" else 4
    gateway.faults(**FAULTS)
    shop = enrolled_shop("chaos", history_trades=150)
    nick = shop.seller_nick
    rates = {"trades_per_minute": 120, "changes_per_minute": 300, "refunds_per_minute": 30}
    gateway.control("market", {"nick": nick, **rates})
    time.sleep(6)  # a backlog: the first batches span more than the overlap
    deadline = time.monotonic() + 20
    connections = runner.Connections()  # one process: what it wrote is not written again
    while time.monotonic() < deadline:
        consume(shop, connections)
        time.sleep(0.2)
    connections.close()
    gateway.control("market", {"nick": nick, **dict.fromkeys(rates, 0)})
    wait_pushed(gateway, timeout=90)
    crashes["rate"] = 0.0
    consume(shop)
    consume(shop)

    stats = gateway.control("jdp")
    print(f"\npush: {stats}; consumer crashes: {crashes['count']}")
    assert stats["reordered"] and stats["throttled_ticks"] and crashes["count"]
    assert stats["pushed"] > len(gateway.oracle_trades(nick))  # rows were overwritten
    assert_matches_oracle(gateway, shop)
