"""The tests' oracle: every trade and refund of a shop stored with the platform's current
content (``ordersync.bench.oracle`` holds the one comparison; here are its assertions)."""

from __future__ import annotations

from ordersync.bench.oracle import (
    TRADES,
    compare,
    compare_shop,
    due_by,
    lost,
    platform_now,
    stored,
    truth,
)


def assert_matches_oracle(gateway, shop) -> None:
    """Every trade and refund of the sandbox is stored with its current content, and nothing
    the sandbox does not know is stored."""
    diffs = compare_shop(gateway, shop)
    assert not lost(diffs) and not any(diff.extra for diff in diffs), "; ".join(map(str, diffs))


def assert_current_within(gateway, shop, configured_lag: float, grace: float) -> int:
    """Every change old enough to be stored by now is stored with its current content: made
    more than (its own lag, at least ``configured_lag``) + ``grace`` seconds ago, in platform
    time. Returns how many records were due (the check is hollow when none is)."""
    due = due_by(platform_now(gateway), configured_lag, grace)
    diffs = compare_shop(gateway, shop, due)
    assert not lost(diffs), "during the run: " + "; ".join(map(str, diffs))
    return sum(diff.checked for diff in diffs)


def trades_current(gateway, shop) -> bool:
    """Whether every trade of the sandbox is stored with its current content (to wait on)."""
    expected = truth(gateway, shop.seller_nick, TRADES)
    return not compare(TRADES, expected, stored(shop, TRADES)).lost
