"""How a history is kept: versions frozen, unchanged parts shared, resting trades without a
working copy. A million trades of history must fit in memory; these checks catch a return to
per-version dict copies without measuring sizes or times."""

from __future__ import annotations

import pickle

from ordersync.sandbox import lifecycle
from ordersync.sandbox.market import TERMINAL
from ordersync.sandbox.world import World


def history_world(trades: int = 400) -> World:
    world = World(seed=5)
    world.clock.set_mode("manual")
    world.add_seller("shop-m", history_trades=trades, history_days=20)
    return world


def pairs(versions: list) -> list:
    return list(zip(versions, versions[1:], strict=False))


def test_history_versions_share_what_did_not_change():
    seller = history_world().sellers["shop-m"]
    shared_orders = 0
    for trade in seller.trades.values():
        assert trade.working is None  # resting: its state lives on as its newest version
        for before, after in pairs(trade.versions):
            old, new = before.data["orders"], after.data["orders"]
            old_frozen = before.frozen[before.frozen[0].index("orders") + 1]
            new_frozen = after.frozen[after.frozen[0].index("orders") + 1]
            for at, order in enumerate(new):
                if at < len(old) and old[at] == order:
                    assert new_frozen[at] is old_frozen[at]
                    shared_orders += 1
    assert shared_orders > 0
    shapes = [v.frozen[0] for t in seller.trades.values() for v in t.versions]
    assert len({id(shape) for shape in shapes}) == len(set(shapes))  # one key tuple a shape


def test_item_versions_share_unchanged_skus():
    stock = history_world().sellers["shop-m"].stock
    assert stock is not None
    shared = 0
    for item in stock.items.values():
        for before, after in pairs(item.versions):
            old, new = before.data["skus"], after.data["skus"]
            old_frozen = before.frozen[before.frozen[0].index("skus") + 1]
            new_frozen = after.frozen[after.frozen[0].index("skus") + 1]
            changed = [at for at, sku in enumerate(new) if old[at] != sku]
            for at in range(len(new)):
                assert (new_frozen[at] is old_frozen[at]) == (at not in changed)
                shared += at not in changed
    assert shared > 0


def test_a_rested_trade_moves_on_and_its_versions_stay_put():
    world = history_world()
    seller = world.sellers["shop-m"]
    moved = 0
    for trade in [t for t in seller.by_created if t.current.status not in TERMINAL]:
        before = [v.data for v in trade.versions]
        trade.current.data["status"] = "TRADE_FINISHED"  # a reader's copy, not the version
        assert trade.state == trade.current.data == before[-1]
        if lifecycle.advance(seller, trade, world.now(), 0):
            moved += 1
            assert [v.data for v in trade.versions[: len(before)]] == before
            assert trade.versions[-1].data == trade.state != before[-1]
    assert moved > 0


def test_history_leaves_only_unhidden_versions_in_the_unhidden_index():
    world = history_world()
    seller = world.sellers["shop-m"]
    now = world.now()
    listed = set(map(id, seller.unhidden.items))
    for trade in seller.trades.values():
        for version in trade.versions:
            assert (id(version) in listed) == (version.hidden_at > now)
    assert all(entry[0] > now for entry in seller.hide_queue)
    assert seller.unhidden.keys == sorted(seller.unhidden.keys)


def test_frozen_history_survives_a_snapshot():
    world = history_world(150)
    again = pickle.loads(pickle.dumps(world, protocol=pickle.HIGHEST_PROTOCOL))
    for nick, seller in world.sellers.items():
        copy = again.sellers[nick]
        for tid, trade in seller.trades.items():
            assert [v.data for v in copy.trades[tid].versions] == [v.data for v in trade.versions]
            assert list(copy.trades[tid].current.data) == list(trade.current.data)  # key order
