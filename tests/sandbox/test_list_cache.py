"""The created-time list (``trades.sold.get``) and the refund list (``refunds.receive.get``)
are computed once and reused across seconds until one of their records gets a newer visible
version (or, for refunds, leaves the 3-month scope), and not a moment longer."""

from __future__ import annotations

import random

from ordersync.sandbox import activity, lifecycle
from ordersync.sandbox.market import DAY, DEFAULT_TYPES, REFUND_DEFAULT_TYPES, SCOPE_SECONDS
from ordersync.sandbox.world import World


def _world(trades: int, seed: int = 7) -> tuple[World, object]:
    world = World(seed)
    world.clock.set_mode("manual")  # time moves only when the test moves it
    seller, _ = world.add_seller("shop-a", trades, 2)
    return world, seller


def _fresh(seller, now: float, start: int, end: int) -> list:
    """What the list shows at ``now``, scanned without any cache."""
    shown = (t.visible(now) for t in seller.by_created if start <= t.created <= end)
    listed = [v for v in shown if v is not None and v.type in DEFAULT_TYPES]
    listed.reverse()
    return listed


def _fresh_refunds(seller, now: float, start: int, end: int) -> list:
    """What the refund list shows at ``now`` (newest ``modified`` first), without a cache."""
    shown = (
        r.visible(now)
        for r in seller.refunds.values()
        if r.type in REFUND_DEFAULT_TYPES and r.created >= int(now) - SCOPE_SECONDS
    )
    listed = [v for v in shown if v is not None and start <= v.modified <= end]
    return sorted(listed, key=lambda v: (v.modified, int(v.refund.refund_id)), reverse=True)


def test_the_created_list_changes_at_the_second_a_version_becomes_visible():
    world, seller = _world(300)
    base = int(world.now())
    start, end = base - 3 * DAY, base
    trade = next(t for t in reversed(seller.by_created) if t.type in DEFAULT_TYPES)
    old = trade.current
    lifecycle.touch(seller, trade, base, lag=5)  # visible at base + 5
    lifecycle.same_second(seller, trade, delay=3)  # a second version of that second, base + 8
    first, second = trade.versions[-2:]
    assert (first.visible_at, second.visible_at) == (base + 5, base + 8)

    def shown(now: float):
        listed = seller.list_by_created(now, start, end, DEFAULT_TYPES, None, None)
        assert listed == _fresh(seller, now, start, end)
        return next(v for v in listed if v.trade is trade)

    assert shown(base + 0.2) is old
    scans = seller.list_scans
    # the next seconds are answered from the cache: nothing of the slice changes before +5
    for now in (base + 1, base + 2.5, base + 4.999):
        assert shown(now) is old
    assert seller.list_scans == scans
    # at the exact second the first version becomes visible, the list shows it …
    assert shown(base + 5) is first
    assert seller.list_scans == scans + 1
    assert shown(base + 7.999) is first
    # … and the same-second version replaces it at its own second
    assert shown(base + 8) is second
    assert seller.list_scans == scans + 2
    # the clock going back (a skew) computes the list again: the old version is back
    assert shown(base + 4) is old


def test_cached_lists_equal_a_fresh_scan_while_lagged_versions_become_visible():
    """A market that changes trades and refunds with lags (a heavy tail) and same-second
    versions, then stops while those versions become visible one by one; both lists are read
    every 0.3 s."""
    world, seller = _world(400, seed=11)
    world.set_faults(
        {
            "lag_seconds": 1,
            "lag_tail_rate": 0.4,
            "lag_tail_seconds": 6,
            "lag_max_seconds": 20,
            "same_second_rate": 0.5,
            "same_second_delay_seconds": 2,
        }
    )
    base = int(world.now())
    start, end = base - 3 * DAY, base + 60
    rng = random.Random(3)
    for step in range(200):
        if step < 40:  # the market moves at first, then only the clock does
            for trade in rng.sample(seller.by_created, 5):
                activity.change_trade(world, seller, trade, world.now())
            activity.random_refund(world, seller, world.now())
        elif step == 40:
            quiet, scans = world.now(), seller.list_scans
        world.clock.advance(0.3)
        now = world.now()
        listed = seller.list_by_created(now, start, end, DEFAULT_TYPES, None, None)
        assert listed == _fresh(seller, now, start, end), f"at +{now - base:.1f} s"
        refunds = seller.refunds_by_modified(now, start, end, None, REFUND_DEFAULT_TYPES)
        assert refunds == _fresh_refunds(seller, now, start, end), f"at +{now - base:.1f} s"
    # once quiet, a list is computed again only at the seconds a pending version appears
    versions = [v for t in seller.by_created for v in t.versions]
    versions += [v for r in seller.refunds.values() for v in r.versions]
    pending = {v.visible_at for v in versions if quiet < v.visible_at <= now}
    assert 3 < len(pending) < 40
    assert seller.list_scans - scans <= 2 * (len(pending) + 1)  # two lists


def test_the_refund_list_changes_at_the_second_a_version_appears_or_leaves_the_scope():
    world, seller = _world(600)
    base = int(world.now())
    start, end = 0, base + 60
    refund = next(r for r in seller.refunds.values() if r.type in REFUND_DEFAULT_TYPES)
    old = refund.versions[-1]
    lifecycle.touch_refund(seller, refund, base, lag=4)  # visible at base + 4
    new = refund.versions[-1]
    assert new.visible_at == base + 4

    def listed(now: float) -> list:
        got = seller.refunds_by_modified(now, start, end, None, REFUND_DEFAULT_TYPES)
        assert got == _fresh_refunds(seller, now, start, end)
        return got

    assert old in listed(base + 0.5)
    scans = seller.list_scans
    for now in (base + 1, base + 3.999):
        assert old in listed(now) and new not in listed(now)
    assert seller.list_scans == scans
    assert new in listed(base + 4) and old not in listed(base + 4)
    assert seller.list_scans == scans + 1
    # the oldest refund is listed up to the last second of its 3 months, and gone after it
    oldest = min(
        (r for r in seller.refunds.values() if r.type in REFUND_DEFAULT_TYPES),
        key=lambda r: r.created,
    )
    last = int(oldest.created) + SCOPE_SECONDS
    assert oldest.versions[-1] in listed(last + 0.2)
    assert oldest.versions[-1] in listed(last + 0.999)
    assert oldest.versions[-1] not in listed(last + 1)
