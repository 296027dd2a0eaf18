"""Faults: visibility lag, peak mode, bans, isp errors, HTTP errors, bad bodies, hangs."""

from __future__ import annotations

import re
import time

import pytest
import requests

from ordersync.sandbox import activity, lifecycle
from ordersync.sandbox.clock import fmt
from ordersync.sandbox.market import ALL_TYPES
from tests.support.sandbox_http import (
    APP_KEY,
    APP_SECRET,
    Top,
    control,
    error_of,
    make_seller,
    trades_of,
)

EVERY_TYPE = ",".join(sorted(ALL_TYPES))
BAN_MSG = re.compile(r"^This ban will last for (\d+) more seconds$")


def increment(top, start: float, end: float, **params) -> list[dict]:
    inner = top.ok(
        "taobao.trades.sold.increment.get",
        fields="tid,status,modified",
        start_modified=fmt(start),
        end_modified=fmt(end),
        page_size="100",
        type=EVERY_TYPE,
        **params,
    )
    return trades_of(inner)


def test_visibility_lag_hides_new_trades_and_shows_old_versions(sb, top):
    control(sb, "POST", "faults", {"lag_seconds": 120})
    seller = sb.state.sellers["shop-a"]
    before = control(sb, "POST", "market", {"nick": "shop-a", "burst": 1})["trades"]
    new_tid = max(t.tid for t in seller.trades.values())
    assert before == len(seller.trades)
    now = time.time()
    assert new_tid not in {t["tid"] for t in increment(top, now - 600, now + 60)}
    sold = top.ok(
        "taobao.trades.sold.get", fields="tid", start_created=fmt(now - 600), type=EVERY_TYPE
    )
    assert new_tid not in {t["tid"] for t in trades_of(sold)}
    full = top.ok("taobao.trade.fullinfo.get", fields="tid,status", tid=str(new_tid))["trade"]
    assert full["tid"] == new_tid  # fullinfo is always current

    # An existing trade changes now: the lists keep showing its previous version.
    trade = next(t for t in seller.by_created if t.current.status == "WAIT_BUYER_CONFIRM_GOODS")
    old_modified = trade.current.data["modified"]
    with sb.state.lock:
        lifecycle.advance(seller, trade, sb.state.now(), 120)
    created = trade.current.data["created"]
    listed = top.ok(
        "taobao.trades.sold.get",
        fields="tid,status,modified",
        start_created=created,
        end_created=created,
        type=EVERY_TYPE,
    )
    shown = next(t for t in trades_of(listed) if t["tid"] == trade.tid)
    assert (shown["status"], shown["modified"]) == ("WAIT_BUYER_CONFIRM_GOODS", old_modified)
    full = top.ok("taobao.trade.fullinfo.get", fields="status", tid=str(trade.tid))["trade"]
    assert full["status"] == "TRADE_FINISHED"

    # After T + lag (moved forward on the sandbox clock) both appear.
    control(sb, "POST", "faults", {"skew_seconds": 125})
    now = sb.state.now()
    listed = {t["tid"]: t for t in increment(top, now - 600, now)}
    assert new_tid in listed and listed[trade.tid]["status"] == "TRADE_FINISHED"


def test_peak_mode_drops_orders_and_payment_from_lists_only(sb, top):
    control(sb, "POST", "faults", {"peak_mode": True})
    inner = top.ok("taobao.trades.sold.get", fields="tid,status,payment,orders,pay_time")
    trades = trades_of(inner)
    assert trades and all(set(t) <= {"tid", "tid_str", "status"} for t in trades)
    full = top.ok(
        "taobao.trade.fullinfo.get", fields="tid,payment,orders", tid=str(trades[0]["tid"])
    )["trade"]
    assert "payment" in full and full["orders"]["order"]


def test_budget_ban_lasts_n_seconds_and_no_longer(sb, top):
    control(
        sb, "POST", "apps", {"app_key": APP_KEY, "app_secret": APP_SECRET, "calls_per_minute": 3}
    )
    control(sb, "POST", "faults", {"ban_seconds": 2})
    for _ in range(3):
        top.ok("taobao.time.get")
    banned_at = time.monotonic()
    error = error_of(top.call("taobao.time.get"))
    assert (error["code"], error["sub_code"]) == (7, "accesscontrol.limited-by-app-access-count")
    assert BAN_MSG.match(error["sub_msg"]).group(1) == "2"
    # Every call during the ban is rejected, for every API of the app.
    error = error_of(top.call("taobao.trades.sold.get", fields="tid"))
    assert error["code"] == 7 and int(BAN_MSG.match(error["sub_msg"]).group(1)) in (1, 2)
    time.sleep(max(0.0, banned_at + 1.6 - time.monotonic()))
    assert error_of(top.call("taobao.time.get"))["code"] == 7
    time.sleep(max(0.0, banned_at + 2.2 - time.monotonic()))
    top.ok("taobao.time.get")
    assert control(sb, "GET", "stats")["bans_issued"] == 1


def test_budget_ban_without_fixed_length_waits_for_the_minute_window(sb, top):
    control(
        sb, "POST", "apps", {"app_key": APP_KEY, "app_secret": APP_SECRET, "calls_per_minute": 2}
    )
    top.ok("taobao.time.get")
    top.ok("taobao.time.get")
    seconds = int(BAN_MSG.match(error_of(top.call("taobao.time.get"))["sub_msg"]).group(1))
    assert 55 <= seconds <= 60


def test_random_bans_use_real_sub_codes(sb, top):
    control(sb, "POST", "faults", {"ban_rate": 1, "ban_seconds": 5})
    error = error_of(top.call("taobao.time.get"))
    assert error["code"] == 7 and error["sub_code"] in {
        "accesscontrol.limited-by-api-access-count",
        "accesscontrol.limited-by-app-api-access-count",
    }
    assert BAN_MSG.match(error["sub_msg"]).group(1) == "5"


def test_isp_errors_and_rejection(sb, top):
    control(sb, "POST", "faults", {"isp_rate": 1})
    error = error_of(top.call("taobao.time.get"))
    assert error["code"] == 15 and error["sub_code"].startswith("isp.")
    control(sb, "POST", "faults", {"isp_rate": 0, "rejection_rate": 1})
    error = error_of(top.call("taobao.trades.sold.get", fields="tid"))
    assert error["sub_code"] == "isv.trade-service-rejection"
    top.ok("taobao.time.get")  # only the trade list APIs are rejected
    stats = control(sb, "GET", "stats")
    assert stats["errors_injected"] == {"isp": 1, "rejection": 1}
    assert stats["calls"]["taobao.time.get"][APP_KEY] == 2


def test_the_oracle_lists_a_trade_made_during_a_rejection_once_it_ends(sb, top, app):
    """What a rejection kept the shop's searches from listing is listable when it ends."""
    control(sb, "POST", "clock", {"mode": "manual"})
    control(sb, "POST", "faults", {"rejection_rate": 1, "rejection_seconds": 60})
    assert error_of(top.call("taobao.trades.sold.get", fields="tid"))["code"] == 15
    control(sb, "POST", "faults", {"rejection_rate": 0})
    before = control(sb, "GET", "oracle/trades", nick="shop-a")["trades"]
    control(sb, "POST", "clock", {"advance": 10})
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 1})
    rows = control(sb, "GET", "oracle/trades", nick="shop-a")["trades"]
    made = [row for row in rows if row["tid"] not in {old["tid"] for old in before}]
    assert all(row["listable_at"] == row["visible_at"] for row in before)
    assert len(made) == 1 and made[0]["listable_at"] > made[0]["visible_at"]
    control(sb, "POST", "clock", {"advance": 50})
    assert control(sb, "GET", "time")["time"] == made[0]["listable_at"]
    assert "error_response" not in top.call("taobao.trades.sold.get", fields="tid")


def test_a_rejection_holds_the_shops_list_calls_for_three_minutes(sb, top, app):
    other = Top(sb, session=make_seller(sb, "shop-b")["session"])
    control(sb, "POST", "faults", {"rejection_rate": 1})
    assert error_of(top.call("taobao.trades.sold.get", fields="tid"))["code"] == 15
    control(sb, "POST", "faults", {"rejection_rate": 0})
    for method in ("taobao.trades.sold.get", "taobao.trades.sold.increment.get"):
        error = error_of(top.call(method, fields="tid"))
        assert error["sub_code"] == "isv.trade-service-rejection"
    assert "error_response" not in other.call("taobao.trades.sold.get", fields="tid")
    top.ok("taobao.trade.fullinfo.get", fields="tid", tid=str(next(iter_tids(sb))))
    control(sb, "POST", "faults", {"skew_seconds": 170})
    assert "error_response" in top.call("taobao.trades.sold.get", fields="tid")
    control(sb, "POST", "faults", {"skew_seconds": 181})
    assert "error_response" not in top.call("taobao.trades.sold.get", fields="tid")


def iter_tids(sb):
    return iter(sb.state.sellers["shop-a"].trades)


def test_http_errors_and_malformed_bodies(sb, top):
    control(sb, "POST", "faults", {"http_500_rate": 1})
    response = top.raw(top.system("taobao.time.get"))
    assert response.status_code in (500, 502) and "<html>" in response.text
    control(sb, "POST", "faults", {"http_500_rate": 0, "malformed_rate": 1})
    for _ in range(4):
        response = top.raw(top.system("taobao.time.get"))
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()


def test_hang_outlasts_the_client_timeout(sb, top):
    control(sb, "POST", "faults", {"hang_rate": 1, "hang_seconds": 1.5})
    with pytest.raises(requests.exceptions.ReadTimeout):
        top.raw(top.system("taobao.time.get"), timeout=0.3)


def test_faults_can_target_methods(sb, top):
    control(sb, "POST", "faults", {"isp_rate": 1, "methods": ["taobao.trades.sold.get"]})
    top.ok("taobao.time.get")
    assert error_of(top.call("taobao.trades.sold.get", fields="tid"))["code"] == 15
    assert control(sb, "GET", "faults")["methods"] == ["taobao.trades.sold.get"]


def test_unknown_fault_is_refused(sb):
    response = requests.post(f"{sb.url}/_sandbox/faults", json={"no_such_fault": 1})
    assert response.status_code == 400


def test_faults_are_seeded(app):
    from ordersync.sandbox.server import start_sandbox

    def codes():
        with start_sandbox(port=0, seed=7) as sandbox:
            control(sandbox, "POST", "apps", {"app_key": APP_KEY, "app_secret": APP_SECRET})
            control(sandbox, "POST", "faults", {"isp_rate": 0.5})
            client = Top(sandbox)
            return ["error_response" in client.call("taobao.time.get") for _ in range(30)]

    assert codes() == codes()


def test_incrementv_windows_on_visibility_time_so_lagged_changes_are_not_missed(sb, top):
    """A change made at T under lag L has modified T but becomes visible at T + L:
    increment.get over the recent window misses it, incrementv.get finds it."""
    control(sb, "POST", "faults", {"lag_seconds": 300})
    seller = sb.state.sellers["shop-a"]
    trade = next(t for t in seller.by_created if t.current.status == "WAIT_BUYER_CONFIRM_GOODS")
    with sb.state.lock:
        changed_at = sb.state.now()
        lifecycle.advance(seller, trade, changed_at, 300)
    control(sb, "POST", "faults", {"skew_seconds": 310})
    now = sb.state.now()
    recent = {t["tid"] for t in increment(top, now - 60, now)}
    assert trade.tid not in recent
    inner = top.ok(
        "taobao.trades.sold.incrementv.get",
        fields="tid,modified,status",
        start_create=fmt(now - 60),
        end_create=fmt(now),
        type=EVERY_TYPE,
        page_size="100",
    )
    found = {t["tid"]: t for t in trades_of(inner)}
    assert found[trade.tid]["status"] == "TRADE_FINISHED"
    assert found[trade.tid]["modified"] == fmt(changed_at)
    assert found[trade.tid]["async_modified"] == fmt(int(changed_at) + 300)


def test_daily_quota_bans_until_platform_midnight(sb, top):
    control(sb, "POST", "apps", {"app_key": APP_KEY, "app_secret": APP_SECRET, "calls_per_day": 2})
    top.ok("taobao.time.get")
    top.ok("taobao.time.get")
    error = error_of(top.call("taobao.time.get"))
    assert (error["code"], error["sub_code"]) == (7, "accesscontrol.limited-by-app-access-count")
    seconds = int(BAN_MSG.match(error["sub_msg"]).group(1))
    now = sb.state.now()
    midnight = (int((now + 8 * 3600) // 86400) + 1) * 86400 - 8 * 3600
    assert abs(seconds - (midnight - now)) <= 2


def test_slow_answers_outlast_a_short_timeout(sb, top):
    control(sb, "POST", "faults", {"slow_rate": 1, "slow_seconds": 1})
    with pytest.raises(requests.exceptions.ReadTimeout):
        top.raw(top.system("taobao.time.get"), timeout=0.3)
    assert control(sb, "GET", "stats")["errors_injected"]["slow"] == 1


def test_lag_makes_a_window_that_ends_at_now_lose_a_change_for_good(sb, top):
    """The naive scheme: poll [last_end, now], then start the next window at now. A change
    made just before ``now`` is not visible yet, and the next window starts after its
    ``modified``: it is never read, while the oracle has it."""
    control(sb, "POST", "faults", {"lag_seconds": 60})
    seller = sb.state.sellers["shop-a"]
    trade = next(t for t in seller.by_created if t.current.status == "WAIT_BUYER_CONFIRM_GOODS")
    with sb.state.lock:
        lifecycle.advance(seller, trade, sb.state.now() - 5, 60)
    now = sb.state.now()
    first = {t["tid"] for t in increment(top, now - 300, now)}
    control(sb, "POST", "faults", {"skew_seconds": 120})
    later = sb.state.now()
    second = {t["tid"] for t in increment(top, now + 1, later)}
    assert trade.tid not in first | second
    truth = {t["tid"]: t for t in control(sb, "GET", "oracle/trades", nick="shop-a")["trades"]}
    assert truth[trade.tid]["status"] == "TRADE_FINISHED"
    # An overlapping window that trails "now" by more than the lag does read it.
    assert trade.tid in {t["tid"] for t in increment(top, now - 300, later - 61)}


def test_isp_timeouts_can_answer_late(sb, top):
    control(sb, "POST", "faults", {"isp_rate": 1, "isp_timeout_seconds": 1})
    outcomes = set()
    for _ in range(12):
        try:
            error = error_of(top.raw(top.system("taobao.time.get"), timeout=0.4).json())
            outcomes.add(error["sub_code"])
        except requests.exceptions.ReadTimeout:
            outcomes.add("late")
    assert "late" in outcomes and "isp.top-remote-connection-timeout" not in outcomes


def test_same_second_versions_differ_and_the_later_one_shows_later(sb, top):
    control(sb, "POST", "faults", {"same_second_rate": 1, "same_second_delay_seconds": 30})
    world, seller = sb.state, sb.state.sellers["shop-a"]
    trade = next(t for t in seller.by_created if t.current.status == "WAIT_SELLER_SEND_GOODS")
    with world.lock:
        activity.change_trade(world, seller, trade, world.now())
    first, second = trade.versions[-2:]
    assert first.modified == second.modified and first.data != second.data
    assert second.visible_at == first.visible_at + 30
    now = world.now()
    listed = {t["tid"]: t for t in increment(top, now - 600, now + 60)}
    full = top.ok("taobao.trade.fullinfo.get", fields="status,modified", tid=str(trade.tid))
    assert listed[trade.tid]["modified"] == full["trade"]["modified"]
    assert (listed[trade.tid]["status"], full["trade"]["status"]) == (first.status, second.status)
    control(sb, "POST", "faults", {"skew_seconds": 31})
    now = world.now()
    listed = {t["tid"]: t for t in increment(top, now - 600, now)}
    assert listed[trade.tid]["status"] == second.status


def test_tie_order_changes_between_page_calls_and_pages_can_be_too_deep(sb, top):
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 60})  # 60 trades, one second
    now = sb.state.now()

    def order():
        return [t["tid"] for t in increment(top, now - 60, now + 60)]

    assert order() == order()
    control(sb, "POST", "faults", {"tie_shuffle": True})
    orders = [order() for _ in range(3)]
    assert len({tuple(o) for o in orders}) > 1 and len({frozenset(o) for o in orders}) == 1
    control(sb, "POST", "faults", {"max_page_no": 2})
    pages = {"page_size": "20"}
    assert trades_of(
        top.ok(
            "taobao.trades.sold.increment.get",
            fields="tid",
            start_modified=fmt(now - 60),
            end_modified=fmt(now + 60),
            type=EVERY_TYPE,
            page_no="2",
            **pages,
        )
    )
    error = error_of(
        top.call(
            "taobao.trades.sold.increment.get",
            fields="tid",
            start_modified=fmt(now - 60),
            end_modified=fmt(now + 60),
            type=EVERY_TYPE,
            page_no="3",
            **pages,
        )
    )
    assert (error["code"], error["sub_code"]) == (41, "isv.invalid-parameter:page_no")
