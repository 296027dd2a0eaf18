"""The chaos check counts the engine's rounds, on a stopped sandbox clock: a change that
became listable while a round was under way waits for two slow rounds after it before it is
due, and an idle engine, whose rounds come every interval, is still flagged."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support.clock import advance, manual
from tests.support.oracle import assert_current_within
from tools.bench.oracle import TRADES, WINDOW_END_MARGIN, listed_at, platform_now, truth

pytestmark = pytest.mark.django_db(transaction=True)

LAG, GRACE = 3, 10.0
SLOW_ROUND = 6.0  # a ban of 1 s, a hang to the 2 s read timeout, retries


def changes_made_now(gateway, shop) -> datetime:
    """Let the market make a few trades in one second of platform time, then stop it; return
    when the last of them can be listed. The engine stores none of them."""
    manual(gateway)
    gateway.faults(lag_seconds=0)
    nick = shop.seller_nick
    gateway.control("market", {"nick": nick, "trades_per_minute": 240})
    advance(gateway, 1)
    gateway.control("market", {"nick": nick, "trades_per_minute": 0})
    rows = truth(gateway, nick, TRADES).values()
    assert rows, "the market made no trade: the test proves nothing"
    return max(listed_at(row, LAG) for row in rows)


def until(gateway, at: datetime) -> None:
    """Move platform time on to ``at`` (it never goes back)."""
    advance(gateway, max(0.0, (at - platform_now(gateway)).total_seconds()))


def check(gateway, shop, rounds: list[datetime] | None) -> int:
    return assert_current_within(gateway, shop, LAG, GRACE, rounds)


def test_a_change_listable_during_a_round_is_not_due_before_two_slow_rounds_after_it(
    make_shop, gateway
):
    shop = make_shop("slow-rounds")
    listable = changes_made_now(gateway, shop)
    rounds: list[datetime] = []
    # a round under way when the changes became listable (its windows end before them),
    # then two slow rounds: the first may still miss them (the engine's clock is behind)
    until(gateway, listable - timedelta(seconds=1))
    for _ in range(2):
        started = platform_now(gateway)
        advance(gateway, SLOW_ROUND)
        rounds.append(started)
    third = platform_now(gateway)
    assert third - listable > timedelta(seconds=GRACE)  # past the grace, one round short
    assert check(gateway, shop, rounds) == 0
    # the grace alone flags them: what made the chaos proof flaky
    with pytest.raises(AssertionError, match=r"trades: \d+ missing"):
        check(gateway, shop, None)
    advance(gateway, SLOW_ROUND - 1)
    assert check(gateway, shop, rounds) == 0  # the second round after them still runs
    advance(gateway, 1)
    rounds.append(third)
    assert rounds[1] >= listable + WINDOW_END_MARGIN and third >= listable + WINDOW_END_MARGIN
    with pytest.raises(AssertionError, match=r"during the run: trades: \d+ missing"):
        check(gateway, shop, rounds)


def test_the_round_rule_still_flags_an_engine_idle_every_interval(make_shop, gateway):
    shop = make_shop("idle-rounds")
    listable = changes_made_now(gateway, shop)
    rounds: list[datetime] = []
    # an idle engine's rounds: each ends at once, one every interval
    while platform_now(gateway) - listable < timedelta(seconds=GRACE):
        rounds.append(platform_now(gateway))
        advance(gateway, 1)
    with pytest.raises(AssertionError, match=r"during the run: trades: \d+ missing"):
        check(gateway, shop, rounds)
