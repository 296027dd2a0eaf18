"""Trade and refund APIs: ordering, filters, windows, paging, fields."""

from __future__ import annotations

import time

from ordersync.sandbox.clock import fmt, parse
from ordersync.sandbox.market import ALL_TYPES, DEFAULT_TYPES
from tests.support.sandbox_http import control, error_of, make_seller, oracle, trades_of

HOUR = 3600


def page_all(top, method, page_size=100, **params) -> list[dict]:
    out, page = [], 1
    while True:
        inner = top.ok(method, page_no=str(page), page_size=str(page_size), **params)
        batch = trades_of(inner)
        out += batch
        if len(batch) < page_size:
            return out
        page += 1


def test_time_get_is_platform_time(top):
    assert abs(parse(top.ok("taobao.time.get")["time"]) - time.time()) < 5


def test_sold_get_is_created_desc_with_default_type_filter(sb, top):
    trades = page_all(top, "taobao.trades.sold.get", fields="tid,created,type")
    created = [t["created"] for t in trades]
    assert created == sorted(created, reverse=True)
    truth = oracle(sb)
    visible = {t["tid"] for t in truth if t["type"] in DEFAULT_TYPES}
    hidden = {t["tid"] for t in truth if t["type"] not in DEFAULT_TYPES}
    assert hidden, "the generator makes types outside the default filter"
    assert {t["tid"] for t in trades} == visible


def test_sold_get_type_list_shows_other_types(sb, top):
    trades = page_all(top, "taobao.trades.sold.get", fields="tid,type", type="tmall_i18n,nopaid")
    assert trades and {t["type"] for t in trades} <= {"tmall_i18n", "nopaid"}
    fixed = page_all(top, "taobao.trades.sold.get", fields="tid,type", type="guarantee_trade")
    assert {t["type"] for t in fixed} <= {"fixed", "auction"} and fixed


def test_status_filter_and_aggregates(top):
    closed = page_all(top, "taobao.trades.sold.get", fields="tid,status", status="ALL_CLOSED")
    assert closed and {t["status"] for t in closed} <= {"TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"}
    finished = page_all(top, "taobao.trades.sold.get", fields="tid,status", status="TRADE_FINISHED")
    assert finished and {t["status"] for t in finished} == {"TRADE_FINISHED"}


def test_page_size_default_and_use_has_next(top):
    inner = top.ok("taobao.trades.sold.get", fields="tid")
    assert len(trades_of(inner)) == 40 and inner["total_results"] > 40
    assert "has_next" not in inner
    total = inner["total_results"]
    last_page = (total + 39) // 40
    inner = top.ok("taobao.trades.sold.get", fields="tid", use_has_next="true", page_no="1")
    assert inner["has_next"] is True and "total_results" not in inner
    inner = top.ok(
        "taobao.trades.sold.get", fields="tid", use_has_next="true", page_no=str(last_page)
    )
    assert inner["has_next"] is False and len(trades_of(inner)) == total - 40 * (last_page - 1)
    assert error_of(top.call("taobao.trades.sold.get", fields="tid", page_no="0"))["code"] == 41


def test_sold_get_created_window(top):
    end = fmt(time.time() - 2 * 86400)
    start = fmt(time.time() - 4 * 86400)
    trades = page_all(
        top, "taobao.trades.sold.get", fields="tid,created", start_created=start, end_created=end
    )
    assert trades and all(start <= t["created"] <= end for t in trades)
    same = top.ok("taobao.trades.sold.get", fields="tid", start_created=end, end_created=end)
    assert "total_results" in same  # both bounds inclusive: one second is a range
    backwards = top.call(
        "taobao.trades.sold.get", fields="tid", start_created=end, end_created=start
    )
    assert error_of(backwards)["sub_code"] == "isv.invalid-parameter"


def test_increment_get_is_modified_desc_within_the_window(sb, top):
    end = time.time()
    start = end - 86400
    trades = page_all(
        top,
        "taobao.trades.sold.increment.get",
        fields="tid,modified,type",
        start_modified=fmt(start),
        end_modified=fmt(end),
    )
    modified = [t["modified"] for t in trades]
    assert modified == sorted(modified, reverse=True)
    expected = {
        t["tid"]
        for t in oracle(sb)
        if fmt(start) <= t["modified"] <= fmt(end) and t["type"] in DEFAULT_TYPES
    }
    assert expected and {t["tid"] for t in trades} == expected


def test_increment_window_rules(top):
    now = time.time()
    too_long = top.call(
        "taobao.trades.sold.increment.get",
        fields="tid",
        start_modified=fmt(now - 86400 - 1),
        end_modified=fmt(now),
    )
    assert error_of(too_long)["sub_code"].startswith("isv.")
    backwards = top.call(
        "taobao.trades.sold.increment.get",
        fields="tid",
        start_modified=fmt(now),
        end_modified=fmt(now - 60),
    )
    assert error_of(backwards)["sub_code"].startswith("isv.")
    missing = top.call("taobao.trades.sold.increment.get", fields="tid", end_modified=fmt(now))
    assert error_of(missing)["code"] == 40


def test_fields_are_honoured_including_order_sub_fields(top):
    inner = top.ok("taobao.trades.sold.get", fields="tid,status,orders.oid,orders.refund_status")
    for trade in trades_of(inner):
        assert set(trade) == {"tid", "tid_str", "status", "orders"}
        for order in trade["orders"]["order"]:
            assert set(order) == {"oid", "oid_str", "refund_status"}
    inner = top.ok("taobao.trades.sold.get", fields="tid,payment")
    assert all(set(t) == {"tid", "tid_str", "payment"} for t in trades_of(inner))


def test_single_order_trades_have_oid_equal_tid(top):
    trades = page_all(top, "taobao.trades.sold.get", fields="tid,orders.oid")
    singles = [t for t in trades if len(t["orders"]["order"]) == 1]
    multis = [t for t in trades if len(t["orders"]["order"]) > 1]
    assert singles and multis
    assert all(t["orders"]["order"][0]["oid"] == t["tid"] for t in singles)


def test_fullinfo_and_trade_get(sb, top):
    truth = oracle(sb)[0]
    for method in ("taobao.trade.fullinfo.get", "taobao.trade.get"):
        trade = top.ok(method, fields="tid,status,modified,orders", tid=str(truth["tid"]))["trade"]
        assert (trade["tid"], trade["status"], trade["modified"]) == (
            truth["tid"],
            truth["status"],
            truth["modified"],
        )
        assert trade["orders"]["order"]


def test_unknown_or_old_trade_does_not_exist(sb, top):
    error = error_of(top.call("taobao.trade.fullinfo.get", fields="tid", tid="123"))
    assert (error["code"], error["sub_code"]) == (15, "isv.trade-not-exist")
    tid = oracle(sb)[0]["tid"]
    control(sb, "POST", "faults", {"session_ttl_seconds": 400 * 86400})
    top.session = make_seller(sb)["session"]  # a session that outlives the clock jump
    control(sb, "POST", "faults", {"skew_seconds": 91 * 86400})
    error = error_of(top.call("taobao.trade.fullinfo.get", fields="tid", tid=str(tid)))
    assert error["sub_code"] == "isv.trade-not-exist"


def test_refunds_receive_get_and_refund_get(sb, top):
    truth = control(sb, "GET", "oracle/refunds", nick="shop-a")["refunds"]
    assert truth
    inner = top.ok(
        "taobao.refunds.receive.get",
        fields="refund_id,tid,oid,status,modified",
        type=",".join(sorted(ALL_TYPES)),
    )
    refunds = inner["refunds"]["refund"]
    assert inner["total_results"] == len(truth)
    assert [r["modified"] for r in refunds] == sorted(
        (r["modified"] for r in refunds), reverse=True
    )
    one = truth[0]
    got = top.ok("taobao.refund.get", fields="refund_id,status,tid", refund_id=one["refund_id"])
    assert got["refund"] == {
        "refund_id": one["refund_id"],
        "status": one["status"],
        "tid": one["tid"],
    }
    now = time.time()
    error = error_of(
        top.call(
            "taobao.refunds.receive.get",
            fields="refund_id",
            start_modified=fmt(now - 3 * 86400),
            end_modified=fmt(now),
        )
    )
    assert error["sub_code"].startswith("isv.")


def test_incrementv_returns_async_modified(top):
    now = time.time()
    inner = top.ok(
        "taobao.trades.sold.incrementv.get",
        fields="tid,modified",
        start_create=fmt(now - 86400),
        end_create=fmt(now),
    )
    trades = trades_of(inner)
    assert trades and all(t["async_modified"] >= t["modified"] for t in trades)


def test_logistics_trace_search(sb, top):
    shipped = [t for t in oracle(sb) if t["status"] == "TRADE_FINISHED"][0]
    inner = top.ok("taobao.logistics.trace.search", tid=str(shipped["tid"]))
    steps = inner["trace_list"]["transit_step_info"]
    assert inner["out_sid"] and steps and steps[0]["status_desc"]
