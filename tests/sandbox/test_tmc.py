"""TMC over HTTP: permit, messages for live changes, visibility timeout, faults, AuthCancel."""

from __future__ import annotations

import json

from ordersync.sandbox import lifecycle
from ordersync.sandbox.tmc import TRADE_TOPICS
from tests.support.sandbox_http import APP_KEY, Top, control, error_of, later


def consume(top: Top, quantity: int = 100, **extra) -> list[dict]:
    inner = top.ok("taobao.tmc.messages.consume", quantity=str(quantity), **extra)
    return inner.get("messages", {}).get("tmc_message", [])


def confirm(top: Top, messages: list[dict], **extra) -> None:
    ids = ",".join(str(m["id"]) for m in messages)
    answer = top.ok("taobao.tmc.messages.confirm", s_message_ids=ids, **extra)
    assert answer["is_success"] is True


def change(sb, nick: str = "shop-a", count: int = 1) -> list[int]:
    """Advance ``count`` open trades one step (live, announced); return their tids."""
    world = sb.state
    seller = world.sellers[nick]
    tids = []
    with world.lock:
        for trade in list(seller.open_trades)[-count:]:
            if not lifecycle.advance(seller, trade, world.now(), 0):
                lifecycle.touch(seller, trade, world.now(), 0)
            tids.append(trade.tid)
    assert len(tids) == count
    return tids


def test_no_messages_without_permit(sb, top):
    change(sb)
    assert consume(top) == []


def test_permitted_changes_arrive_with_topic_and_content(sb, top):
    assert top.ok("taobao.tmc.user.permit")["is_success"] is True
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 2})
    tids = change(sb, count=3)
    messages = consume(top)
    topics = [m["topic"] for m in messages]
    assert topics.count("taobao_trade_TradeCreate") == 2
    changed = [m for m in messages if m["topic"] != "taobao_trade_TradeCreate"]
    assert len(changed) == 3
    for message in changed:
        assert message["topic"] in TRADE_TOPICS
        content = json.loads(message["content"])
        assert content["tid"] in tids
        assert content["seller_nick"] == "shop-a"
        assert {"oid", "buyer_nick", "payment", "status", "type"} <= set(content)
        assert message["user_nick"] == "shop-a" and message["retried"] == 0
        assert message["id"] > 2**53
    confirm(top, messages)
    assert consume(top) == []


def test_unconfirmed_messages_come_back_with_growing_retried(sb, top):
    control(sb, "POST", "faults", {"tmc_visibility_seconds": 1})
    top.ok("taobao.tmc.user.permit")
    change(sb)
    first = consume(top)
    assert len(first) == 1 and first[0]["retried"] == 0
    assert consume(top) == []  # invisible while in flight
    later(sb, 1.1)
    second = consume(top)
    assert [m["id"] for m in second] == [first[0]["id"]] and second[0]["retried"] == 1
    later(sb, 1.1)
    third = consume(top)
    assert third[0]["retried"] == 2
    confirm(top, third)
    later(sb, 1.1)
    assert consume(top) == []


def test_refund_steps_have_refund_topics(sb, top):
    top.ok("taobao.tmc.user.permit")
    world = sb.state
    seller = world.sellers["shop-a"]
    with world.lock:
        trade = next(t for t in seller.open_trades if lifecycle.refundable(t))
        refund = lifecycle.start_refund(seller, world.ids, trade, world.now(), 0)
        while lifecycle.advance_refund(seller, refund, world.now(), 0):
            pass
    messages = consume(top)
    refund_messages = [m for m in messages if m["topic"].startswith("taobao_refund_")]
    assert refund_messages[0]["topic"] == "taobao_refund_RefundCreated"
    assert refund_messages[-1]["topic"] in (
        "taobao_refund_RefundSuccess",
        "taobao_refund_RefundClosed",
    )
    content = json.loads(refund_messages[0]["content"])
    assert content["refund_id"] == int(refund.refund_id) and content["tid"] == trade.tid
    assert {"refund_fee", "refund_phase", "bill_type", "modified"} <= set(content)


def test_topics_filter_and_cancel(sb, top):
    top.ok("taobao.tmc.user.permit", topics="taobao_trade_TradeCreate")
    change(sb)
    assert consume(top) == []
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 1})
    assert [m["topic"] for m in consume(top)] == ["taobao_trade_TradeCreate"]
    error = error_of(top.call("taobao.tmc.user.permit", topics="taobao_trade_Nope"))
    assert error["sub_code"] == "isv.topic-not-exist"
    top.ok("taobao.tmc.user.cancel", nick="shop-a")
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 1})
    assert consume(top) == []


def test_drop_duplicate_and_reorder_faults(sb, top):
    top.ok("taobao.tmc.user.permit")
    control(sb, "POST", "faults", {"tmc_drop_rate": 1.0})
    change(sb)
    assert consume(top) == []
    control(sb, "POST", "faults", {"tmc_drop_rate": 0.0, "tmc_duplicate_rate": 1.0})
    change(sb)
    later(sb, 1.05)
    messages = consume(top)
    assert len(messages) == 2 and len({m["id"] for m in messages}) == 2
    assert messages[0]["content"] == messages[1]["content"]
    confirm(top, messages)
    control(
        sb,
        "POST",
        "faults",
        {"tmc_duplicate_rate": 0.0, "tmc_reorder_rate": 1.0, "tmc_reorder_seconds": 1.0},
    )
    tids = change(sb, count=5)
    later(sb, 1.05)
    got = [json.loads(m["content"])["tid"] for m in consume(top)]
    assert sorted(got) == sorted(tids)
    stats = control(sb, "GET", "tmc")
    assert stats["dropped"] == 1 and stats["duplicated"] == 1 and stats["delayed"] == 5


def test_revoke_sends_auth_cancel_and_kills_the_session(sb, top, seller):
    top.ok("taobao.tmc.user.permit")
    answer = control(sb, "POST", "sellers/shop-a/revoke", {})
    assert answer == {"apps": [APP_KEY], "messages": 1}
    messages = consume(top)
    assert [m["topic"] for m in messages] == ["taobao_top_AuthCancel"]
    assert json.loads(messages[0]["content"])["user_id"] == seller["user_id"]
    error = error_of(top.call("taobao.trade.fullinfo.get", fields="tid", tid="1"))
    assert error["code"] == 27
    change(sb)  # no permit any more: no messages
    assert consume(top) == []


def test_consume_quantity_bounds(sb, top):
    error = error_of(top.call("taobao.tmc.messages.consume", quantity="500"))
    assert error["code"] == 41


def test_group_add_moves_new_messages_to_the_named_group(sb, top):
    error = error_of(top.call("taobao.tmc.group.add", group_name="g1", nicks="shop-a"))
    assert error["sub_code"] == "isv.user-not-permit"  # only permitted sellers
    control(sb, "POST", "faults", {"tmc_visibility_seconds": 1})
    top.ok("taobao.tmc.user.permit")
    change(sb)  # queued in "default" before the seller joins g1: it stays there
    answer = top.ok("taobao.tmc.group.add", group_name="g1", nicks="shop-a")
    assert answer["group_name"] == "g1" and answer["created"]
    assert top.ok("taobao.tmc.user.get", nick="shop-a")["tmc_user"]["group_name"] == "g1"
    top.ok("taobao.tmc.user.permit")  # a later permit keeps the group
    tids = change(sb, count=2)
    in_group = consume(top, group_name="g1")
    assert sorted(json.loads(m["content"])["tid"] for m in in_group) == sorted(tids)
    assert len(consume(top)) == 1  # the old message, in "default"
    confirm(top, in_group, group_name="g1")
    later(sb, 1.1)  # past the visibility timeout: only unconfirmed ones would come back
    assert consume(top, group_name="g1") == []
    assert control(sb, "GET", "tmc")["queues"][f"{APP_KEY}/g1"]["pending"] == 0


def test_group_add_refuses_reserved_and_long_names(sb, top):
    top.ok("taobao.tmc.user.permit")
    for name in ("default", "default2", "g" * 33):
        error = error_of(top.call("taobao.tmc.group.add", group_name=name, nicks="shop-a"))
        assert error["code"] == 41 and "group_name" in error["sub_code"], name
    error = error_of(top.call("taobao.tmc.group.add", group_name="g1"))
    assert error["code"] == 40


CLOSED = ("TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO")


def expected_topic(before: dict, after: dict) -> str:
    """The topic the platform sends for a lifecycle step (docs/platform.md §7.5)."""
    was, now = before["status"], after["status"]
    if was == "WAIT_BUYER_PAY" and now == "WAIT_SELLER_SEND_GOODS":
        name = "TradeBuyerPay"  # paid, or the final payment of a presale
    elif was == now == "WAIT_BUYER_PAY":
        assert before["step"] != after["step"]
        name = "TradeBuyerStepPay"  # the presale deposit
    elif now == "SELLER_CONSIGNED_PART":
        name = "TradePartlySellerShip"
    elif now == "WAIT_BUYER_CONFIRM_GOODS":
        name = "TradeSellerShip"
    elif now == "TRADE_FINISHED":
        name = "TradeSuccess"
    elif now in CLOSED:
        name = "TradeClose"
    else:
        assert now == "TRADE_BUYER_SIGNED", (was, now)  # cod: signed for, not a status topic
        name = "TradeChanged"
    return "taobao_trade_" + name


def snapshot(trade) -> dict:
    return {"status": trade.state["status"], "step": trade.state.get("step_trade_status")}


def consume_all(top: Top, **extra) -> list[dict]:
    messages = []
    while batch := consume(top, quantity=200, **extra):
        messages += batch
        confirm(top, batch, **extra)
    return messages


def test_each_lifecycle_step_has_its_trade_topic(sb, top):
    top.ok("taobao.tmc.user.permit")
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 150})
    created = consume_all(top)
    assert {m["topic"] for m in created} == {"taobao_trade_TradeCreate"}
    new = {json.loads(m["content"])["tid"] for m in created}
    world = sb.state
    seller = world.sellers["shop-a"]
    expected: dict[int, list[str]] = {}
    with world.lock:
        for _ in range(8):  # until every new trade has come to its end
            for trade in [t for t in seller.open_trades if t.tid in new]:
                before = snapshot(trade)
                if lifecycle.advance(seller, trade, world.now(), 0):
                    topic = expected_topic(before, snapshot(trade))
                    expected.setdefault(trade.tid, []).append(topic)
    got: dict[int, list[str]] = {}
    for message in consume_all(top):
        got.setdefault(json.loads(message["content"])["tid"], []).append(message["topic"])
    assert got == expected
    seen = {topic for topics in got.values() for topic in topics}
    for name in ("BuyerPay", "SellerShip", "Success", "Close", "Changed", "PartlySellerShip"):
        assert f"taobao_trade_Trade{name}" in seen, name


def test_reordering_delivers_a_later_message_of_a_trade_first(sb, top):
    """§10.10's example: TradeBuyerPay handed out before the TradeCreate of its trade."""
    top.ok("taobao.tmc.user.permit")
    control(sb, "POST", "faults", {"tmc_reorder_rate": 1.0, "tmc_reorder_seconds": 1.0})
    world = sb.state
    seller = world.sellers["shop-a"]
    old = set(seller.trades)
    control(sb, "POST", "market", {"nick": "shop-a", "burst": 30})
    with world.lock:
        unpaid = [
            t
            for tid, t in seller.trades.items()
            if tid not in old and t.state["status"] == "WAIT_BUYER_PAY"
        ]
        for trade in unpaid:
            assert lifecycle.advance(seller, trade, world.now(), 0)
    assert len(unpaid) >= 10
    later(sb, 1.05)  # every held-back message is due
    delivered = consume(top, quantity=200)
    assert len(delivered) == 30 + len(unpaid)
    inverted = []
    first_seen: dict[int, dict] = {}
    for message in delivered:
        tid = json.loads(message["content"])["tid"]
        earlier = first_seen.setdefault(tid, message)
        if earlier is not message and earlier["id"] > message["id"]:
            inverted.append((earlier["topic"], message["topic"]))  # later one came first
    assert inverted
    assert ("taobao_trade_TradeBuyerPay", "taobao_trade_TradeCreate") in inverted
