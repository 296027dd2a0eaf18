"""The market: legal lifecycles, monotonic modified, refunds agreeing with sub-orders,
live mode, bursts, seeded determinism."""

from __future__ import annotations

import time

from ordersync.sandbox import activity
from ordersync.sandbox.market import DEFAULT_TYPES, LEGAL_MOVES, REFUND_MOVES
from ordersync.sandbox.server import start_sandbox
from tests.support.sandbox_http import APP_KEY, APP_SECRET, control, make_seller, oracle


def run_market(sb, nick: str, minutes: int) -> None:
    """Drive the live market for ``minutes`` of simulated activity, without waiting."""
    control(
        sb,
        "POST",
        "market",
        {
            "nick": nick,
            "trades_per_minute": 30,
            "changes_per_minute": 120,
            "refunds_per_minute": 20,
        },
    )
    with sb.state.lock:
        for _ in range(minutes):
            activity.tick(sb.state, 60)
    control(
        sb,
        "POST",
        "market",
        {"nick": nick, "trades_per_minute": 0, "changes_per_minute": 0, "refunds_per_minute": 0},
    )


def test_lifecycle_invariants(sb, seller):
    run_market(sb, "shop-a", 30)
    world_seller = sb.state.sellers["shop-a"]
    statuses_seen = set()
    for trade in world_seller.trades.values():
        versions = trade.versions
        for before, after in zip(versions, versions[1:], strict=False):
            assert after.modified >= before.modified, "modified never goes back"
            assert after.data["modified"] >= before.data["modified"]
            moved = before.status != after.status
            assert not moved or after.status in LEGAL_MOVES[before.status], (
                before.status,
                after.status,
            )
            if trade.type == "step":
                order = ["FRONT_NOPAID_FINAL_NOPAID", "FRONT_PAID_FINAL_NOPAID"]
                b, a = before.data["step_trade_status"], after.data["step_trade_status"]
                assert b == a or b in order
        statuses_seen |= {v.status for v in versions}
        data = trade.current.data
        assert len({o["oid"] for o in data["orders"]}) == len(data["orders"])
        if len(data["orders"]) == 1:
            assert data["orders"][0]["oid"] == trade.tid
        if data["status"] == "TRADE_CLOSED":
            assert all(o["status"] == "TRADE_CLOSED" for o in data["orders"])
            assert any(o["refund_status"] == "SUCCESS" for o in data["orders"])
    assert statuses_seen >= set(LEGAL_MOVES) - {"TRADE_BUYER_SIGNED"}
    for refund in world_seller.refunds.values():
        order = next(
            o
            for o in world_seller.trades[refund.tid].current.data["orders"]
            if o["oid"] == refund.oid
        )
        assert order["refund_status"] == refund.status and order["refund_id"] == refund.refund_id
        steps = [status for status, _ in refund.history]
        for before, after in zip(steps, steps[1:], strict=False):
            assert after in REFUND_MOVES[before]
        times = [ts for _, ts in refund.history]
        assert times == sorted(times)


def test_refunds_agree_with_sub_orders_over_http(sb, top):
    run_market(sb, "shop-a", 10)
    refunds = control(sb, "GET", "oracle/refunds", nick="shop-a")["refunds"]
    assert {r["status"] for r in refunds} >= {"WAIT_SELLER_AGREE", "SUCCESS"}
    for refund in refunds[:40]:
        trade = top.ok(
            "taobao.trade.fullinfo.get",
            fields="tid,status,orders.oid,orders.refund_status,orders.refund_id",
            tid=str(refund["tid"]),
        )["trade"]
        order = next(o for o in trade["orders"]["order"] if o["oid"] == refund["oid"])
        assert (order["refund_status"], order["refund_id"]) == (
            refund["status"],
            refund["refund_id"],
        )


def test_trade_fields_are_realistic(sb, top):
    trade = top.ok(
        "taobao.trade.fullinfo.get",
        fields="tid,orders," + ",".join(FIELDS),
        tid=str(oracle(sb)[0]["tid"]),
    )["trade"]
    for name in ("tid", "status", "type", "created", "modified", "payment", "buyer_nick"):
        assert name in trade
    order = trade["orders"]["order"][0]
    for name in ("oid", "status", "refund_status", "num_iid", "sku_id", "title", "price", "num"):
        assert name in order


FIELDS = [
    "tid",
    "status",
    "type",
    "created",
    "modified",
    "pay_time",
    "payment",
    "total_fee",
    "post_fee",
    "buyer_nick",
    "buyer_open_uid",
    "receiver_state",
    "receiver_city",
    "receiver_district",
]


def test_step_and_cod_trades_exist(sb, seller):
    trades = sb.state.sellers["shop-a"].trades.values()
    steps = [t for t in trades if t.type == "step"]
    assert steps and all("step_trade_status" in t.current.data for t in steps)
    assert any(t.type == "cod" for t in trades)


def test_live_mode_creates_and_changes_trades_in_real_time(sb, seller):
    before = len(oracle(sb))
    control(
        sb,
        "POST",
        "market",
        {"nick": "shop-a", "trades_per_minute": 1200, "changes_per_minute": 600},
    )
    deadline = time.monotonic() + 10
    while len(oracle(sb)) < before + 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    control(
        sb, "POST", "market", {"nick": "shop-a", "trades_per_minute": 0, "changes_per_minute": 0}
    )
    grown = len(oracle(sb))
    assert grown >= before + 5
    time.sleep(0.3)
    assert len(oracle(sb)) == grown, "zeros stop the market"


def test_double11_burst(sb, seller, top):
    before = len(oracle(sb))
    result = control(sb, "POST", "market", {"nick": "shop-a", "burst": 3000})
    assert result["trades"] == before + 3000
    now = time.time()
    from ordersync.sandbox.clock import fmt

    inner = top.ok(
        "taobao.trades.sold.increment.get",
        fields="tid",
        start_modified=fmt(now - 300),
        end_modified=fmt(now + 5),
        type="fixed,auction,step,cod,auto_delivery,ec,tmall_i18n,o2o_offlinetrade,nopaid,fenxiao",
    )
    assert inner["total_results"] >= 3000


def test_same_seed_same_world(app):
    def world_of(seed):
        with start_sandbox(port=0, seed=seed) as sandbox:
            control(sandbox, "POST", "apps", {"app_key": APP_KEY, "app_secret": APP_SECRET})
            make_seller(sandbox, "shop-a", history_trades=200, history_days=5)
            return [(t["tid"], t["type"]) for t in oracle(sandbox)]

    assert world_of(5) == world_of(5)
    assert world_of(5) != world_of(6)


def test_unhidden_index_lists_what_a_full_scan_lists():
    """The pruned index the list APIs scan gives the same pages as scanning every version,
    while changes become visible and after the clock went back (skew)."""
    with start_sandbox(port=0, seed=3) as sb:
        world = sb.state
        world.add_app("a", "s", 0)
        seller, _ = world.add_seller("s", 600, 1)
        with world.lock:
            seller.rates.changes_per_minute = seller.rates.trades_per_minute = 3000
        # lag 2 s (changes pending), then 0 (versions hidden at once), then the clock goes
        # 30 s back: versions hidden since are visible again and must be listed
        for lag, skew in ((2, 0), (2, 0), (0, 0), (0, 0), (0, -30), (0, 0)):
            with world.lock:
                activity.advance(world, 0.7, step=0.05)  # the market changes trades meanwhile
                world.set_faults({"lag_seconds": lag, "skew_seconds": skew})
                now = world.now()
                start, end = int(now) - 86400, int(now) + 5
                expected = seller._scan(
                    seller.by_modified, now, start, end, DEFAULT_TYPES, None, None
                )
                seller.drop_caches()
                got = seller.list_by_modified(now, start, end, DEFAULT_TYPES, None, None)
            assert [v.trade.tid for v in got] == [v.trade.tid for v in expected]
            assert got == expected
        assert len(seller.unhidden.items) < len(seller.by_modified.items)
