"""The seeded trade generator: new trades, legal lifecycle steps and refunds.

Each function changes a trade's working state and publishes a new version at ``ts``
(platform epoch seconds), so every change bumps ``modified``.
"""

from __future__ import annotations

import random
import string

from ordersync.sandbox import stock as stock_
from ordersync.sandbox.clock import fmt
from ordersync.sandbox.market import (
    REFUND_OPEN,
    TERMINAL,
    Refund,
    Seller,
    TradeRecord,
)

TID_BASE = 3_900_000_000_000_000_000  # beyond 2^53, like real tids
REFUND_BASE = 150_000_000_000_000

TYPE_WEIGHTS = [
    ("fixed", 62),
    ("auction", 2),
    ("step", 8),
    ("cod", 5),
    ("auto_delivery", 3),
    ("ec", 2),
    ("tmall_i18n", 7),
    ("o2o_offlinetrade", 4),
    ("nopaid", 3),
    ("fenxiao", 4),
]
REGIONS = [
    ("浙江省", "杭州市", "西湖区"),
    ("广东省", "深圳市", "南山区"),
    ("北京", "北京市", "朝阳区"),
    ("上海", "上海市", "浦东新区"),
    ("江苏省", "南京市", "鼓楼区"),
    ("四川省", "成都市", "武侯区"),
    ("湖北省", "武汉市", "洪山区"),
    ("海南省", "", "琼海市"),
]
COMPANIES = [("YTO", "圆通速递"), ("ZTO", "中通快递"), ("SF", "顺丰速运"), ("YUNDA", "韵达快递")]
ITEM_WORDS = ["连衣裙", "运动鞋", "保温杯", "蓝牙耳机", "羽绒服", "面膜", "茶叶", "数据线", "背包"]


class Ids:
    """Global id counters (trade/order ids and refund ids are unique across sellers)."""

    def __init__(self) -> None:
        self.last_id = 0
        self.last_refund = 0

    def next_tid(self) -> int:
        self.last_id += 1
        return TID_BASE + self.last_id * 7

    def next_refund_id(self) -> str:
        self.last_refund += 1
        return str(REFUND_BASE + self.last_refund * 3)


# Amounts repeat (a catalog has few prices): one string per amount, not one per trade.
_AMOUNTS: dict[int, str] = {}


def money(cents: int) -> str:
    text = _AMOUNTS.get(cents)
    if text is None:
        if len(_AMOUNTS) >= 65536:
            _AMOUNTS.clear()
        text = _AMOUNTS[cents] = f"{cents // 100}.{cents % 100:02d}"
    return text


def cents(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def setup_seller(seller: Seller, stock_rng: random.Random | None = None, ts: float = 0) -> None:
    """Give a new seller a catalog, a pool of buyers and (with ``stock_rng``) items with
    stock as of platform time ``ts`` (seeded)."""
    rng = seller.rng
    for i in range(24):
        seller.catalog.append(
            {
                "num_iid": 600_000_000_000 + seller.user_id * 1000 + i,
                "title": f"{seller.nick} {rng.choice(ITEM_WORDS)} {i + 1}号",
                "price": rng.choice([990, 1990, 2990, 4900, 5990, 9900, 12900, 19900, 39900]),
                "skus": [
                    str(3_000_000_000_000 + seller.user_id * 100_000 + i * 10 + k) for k in range(3)
                ],
            }
        )
    for _ in range(400):
        token = "".join(rng.choices(string.ascii_letters + string.digits, k=20))
        seller.buyers.append((f"t***{rng.randint(10, 99)}", "AAH" + token))
    if stock_rng is not None:
        seller.stock = stock_.setup_stock(stock_rng, seller.catalog, seller.nick, ts)


def new_trade(seller: Seller, ids: Ids, ts: float, lag: int) -> TradeRecord:
    """Create one trade at platform time ``ts`` and publish its first version."""
    rng = seller.rng
    created = int(ts)
    tid = ids.next_tid()
    ttype = _trade_type(seller, ts)
    n_orders = 1 if rng.random() < 0.65 else rng.randint(2, 4)
    post_fee = 0 if rng.random() < 0.6 else rng.choice([500, 800, 1000, 1200])
    buyer_nick, buyer_open_uid = rng.choice(seller.buyers)
    state_, city, district = rng.choice(REGIONS)
    orders = []
    for i in range(n_orders):
        item = _pick(seller, rng)
        num = rng.choice([1, 1, 1, 2, 3])
        total = item["price"] * num
        discount = 0 if rng.random() < 0.7 else total // 10
        oid = tid if n_orders == 1 else ids.next_tid()
        divide = total - discount
        orders.append(
            {
                "oid": oid,
                "oid_str": str(oid),
                "status": "WAIT_BUYER_PAY",
                "refund_status": "NO_REFUND",
                "num_iid": item["num_iid"],
                "sku_id": item["sku_id"],
                "title": item["title"],
                "price": money(item["price"]),
                "num": num,
                "total_fee": money(total),
                "discount_fee": money(discount),
                "adjust_fee": "0.00",
                "payment": money(divide + (post_fee if n_orders == 1 else 0)),
                "divide_order_fee": money(divide),
                "seller_type": "B",
                "cid": 50010850 + i,
            }
        )
    goods = sum(cents(o["total_fee"]) for o in orders)
    discount_total = sum(cents(o["discount_fee"]) for o in orders)
    payment = goods - discount_total + post_fee
    first = orders[0]
    state = {
        "tid": tid,
        "tid_str": str(tid),
        "status": "WAIT_BUYER_PAY",
        "type": ttype,
        "created": fmt(created),
        "modified": fmt(created),
        "payment": money(payment),
        "total_fee": money(goods),
        "post_fee": money(post_fee),
        "discount_fee": money(discount_total),
        "adjust_fee": "0.00",
        "received_payment": "0.00",
        "commission_fee": "0.00",
        "buyer_nick": buyer_nick,
        "buyer_open_uid": buyer_open_uid,
        "seller_nick": seller.nick,
        "receiver_name": rng.choice("王李张刘陈杨赵黄") + "*",
        "receiver_mobile": f"1{rng.randint(30, 89)}********",
        "receiver_state": state_,
        "receiver_city": city,
        "receiver_district": district,
        "receiver_address": "***" + rng.choice(["路", "街", "大道"]) + "**号",
        "receiver_zip": "000000",
        "shipping_type": "express",
        "seller_flag": 0,
        "trade_from": rng.choice(["WAP,WAP", "TAOBAO", "WAP", "JHS"]),
        "is_part_consign": False,
        "num": first["num"] if n_orders == 1 else 0,
        "num_iid": first["num_iid"],
        "price": first["price"],
        "title": seller.nick,
        "orders": orders,
    }
    if ttype == "step":
        state["step_trade_status"] = "FRONT_NOPAID_FINAL_NOPAID"
        state["step_paid_fee"] = "0.00"
    if ttype == "cod":
        state["cod_status"] = "NEW_CREATED"
        state["cod_fee"] = "0.00"
        _set_status(state, "WAIT_SELLER_SEND_GOODS")
    trade = TradeRecord(tid, seller.nick, created, state)
    seller.add_trade(trade)
    seller.publish(trade, ts, lag)
    if ttype == "cod":
        _sell(seller, state, ts, lag)  # cash on delivery: sold when ordered
    return trade


def _pick(seller: Seller, rng: random.Random) -> dict:
    """The catalog entry and SKU of a new sub-order: by popularity where the seller has
    stock (``stock.Stock.pick``), else any SKU of any entry."""
    stock = getattr(seller, "stock", None)
    if stock is None:
        item = rng.choice(seller.catalog)
        return {**item, "sku_id": rng.choice(item["skus"])}
    num_iid, sku_id = stock.pick(rng)
    return {**stock.entries[num_iid], "sku_id": sku_id}


def _sell(seller: Seller, state: dict, ts: float, lag: int) -> None:
    stock = getattr(seller, "stock", None)
    if stock is not None:
        active = [o for o in state["orders"] if o["status"] not in stock_.CLOSED_LINES]
        stock_.sell(stock, active, ts, lag)


def _trade_type(seller: Seller, ts: float) -> str:
    """A new trade's type: presale with the market's share at ``ts`` when it sets one."""
    rng = seller.rng
    share = seller.presale.share_at(ts)
    if share is None:
        return rng.choices([t for t, _ in TYPE_WEIGHTS], [w for _, w in TYPE_WEIGHTS])[0]
    if rng.random() < share:
        return "step"
    others = [(t, w) for t, w in TYPE_WEIGHTS if t != "step"]
    return rng.choices([t for t, _ in others], [w for _, w in others])[0]


def _set_status(state: dict, status: str, only: set[str] | None = None) -> None:
    """Set the trade status and that of its active orders (``only``: orders in these)."""
    state["status"] = status
    for order in state["orders"]:
        if order["status"] == "TRADE_CLOSED":
            continue
        if only is None or order["status"] in only:
            order["status"] = status


def _paid_status(state: dict) -> str:
    """The trade status implied by its orders once paid."""
    active = [o for o in state["orders"] if o["status"] != "TRADE_CLOSED"]
    if not active:
        return "TRADE_CLOSED"
    statuses = {o["status"] for o in active}
    if "WAIT_SELLER_SEND_GOODS" in statuses:
        shipped = any("consign_time" in o for o in state["orders"])
        return "SELLER_CONSIGNED_PART" if shipped else "WAIT_SELLER_SEND_GOODS"
    if statuses == {"TRADE_FINISHED"}:
        return "TRADE_FINISHED"
    if state["status"] == "TRADE_BUYER_SIGNED":
        return "TRADE_BUYER_SIGNED"
    return "WAIT_BUYER_CONFIRM_GOODS"


def advance(seller: Seller, trade: TradeRecord, ts: float, lag: int) -> bool:
    """Move ``trade`` one legal lifecycle step at ``ts``; False when it cannot move now."""
    state = trade.state
    status = state["status"]
    rng = seller.rng
    now = fmt(ts)
    if status in TERMINAL:
        return False
    if status == "WAIT_BUYER_PAY":
        _pay_or_close(state, rng, now)
    elif status in ("WAIT_SELLER_SEND_GOODS", "SELLER_CONSIGNED_PART"):
        if not _consign(seller, state, now):
            return False
    elif status in ("WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED"):
        if trade.open_refund_oids():
            return False
        if state["type"] == "cod" and status == "WAIT_BUYER_CONFIRM_GOODS":
            state["status"] = "TRADE_BUYER_SIGNED"
            state["cod_status"] = "SIGN_IN"
        else:
            _set_status(state, "TRADE_FINISHED")
            state["end_time"] = now
            for order in state["orders"]:
                order.setdefault("end_time", now)
            state["received_payment"] = state["payment"]
    else:
        return False
    seller.publish(trade, ts, lag)
    if status == "WAIT_BUYER_PAY" and state.get("pay_time") == now:
        _sell(seller, state, ts, lag)  # paid (a presale: its final payment)
    if state["status"] in TERMINAL:
        _drop_open(seller.open_trades, trade)
    return True


def _pay_or_close(state: dict, rng: random.Random, now: str) -> None:
    step = state.get("step_trade_status")
    if rng.random() < 0.18:
        if step == "FRONT_PAID_FINAL_NOPAID":
            state["step_trade_status"] = "FRONT_PAID_FRONT_FORFEITED"
        _set_status(state, "TRADE_CLOSED_BY_TAOBAO")
        state["end_time"] = now
        return
    if step == "FRONT_NOPAID_FINAL_NOPAID":
        state["step_trade_status"] = "FRONT_PAID_FINAL_NOPAID"
        state["step_paid_fee"] = money(cents(state["payment"]) // 5)
        return
    if step == "FRONT_PAID_FINAL_NOPAID":
        state["step_trade_status"] = "FRONT_PAID_FINAL_PAID"
        state["step_paid_fee"] = state["payment"]
    _set_status(state, "WAIT_SELLER_SEND_GOODS")
    state["pay_time"] = now


def _consign(seller: Seller, state: dict, now: str) -> bool:
    waiting = [
        o
        for o in state["orders"]
        if o["status"] == "WAIT_SELLER_SEND_GOODS" and o["refund_status"] not in REFUND_OPEN
    ]
    if not waiting:
        return False
    rng = seller.rng
    if len(waiting) > 1 and rng.random() < 0.5:
        waiting = waiting[:1]
    code, name = rng.choice(COMPANIES)
    invoice = f"{code}{rng.randint(10**11, 10**12 - 1)}"
    split = len(waiting) > 1 and seller.logistics.split(f"{state['tid']}:{now}")
    for at, order in enumerate(waiting):
        order["status"] = "WAIT_BUYER_CONFIRM_GOODS"
        order["consign_time"] = now
        order["logistics_company"] = name
        # a split shipment: one waybill per sub-order, numbered after the first
        order["invoice_no"] = f"{invoice[:-2]}{at:02d}" if split else invoice
    state.setdefault("consign_time", now)
    state["status"] = _paid_status(state)
    state["is_part_consign"] = state["status"] == "SELLER_CONSIGNED_PART"
    if state.get("cod_status") == "NEW_CREATED" and state["status"] != "SELLER_CONSIGNED_PART":
        state["cod_status"] = "ACCEPTED_BY_COMPANY"
    return True


def touch(seller: Seller, trade: TradeRecord, ts: float, lag: int) -> None:
    """A change that keeps the status (the seller edits the memo/flag): bumps ``modified``."""
    state = trade.state
    state["seller_flag"] = seller.rng.randint(0, 5)
    state["seller_memo"] = f"备注 {fmt(ts)}"
    seller.publish(trade, ts, lag)


def same_second(seller: Seller, trade: TradeRecord, delay: int) -> None:
    """Change ``trade`` again within the second of its last version: a second version with
    the same ``modified`` and other content, which the lists show ``delay`` seconds after
    the first (``trade.fullinfo.get`` shows it at once)."""
    last = trade.current
    lag = last.visible_at - last.modified + max(1, delay)
    if not advance(seller, trade, last.modified, lag):
        touch(seller, trade, last.modified, lag)


def refundable(trade: TradeRecord) -> list[dict]:
    if trade.state["status"] not in (
        "WAIT_SELLER_SEND_GOODS",
        "SELLER_CONSIGNED_PART",
        "WAIT_BUYER_CONFIRM_GOODS",
    ):
        return []
    return [
        o
        for o in trade.state["orders"]
        if o["refund_status"] == "NO_REFUND" and o["status"] != "TRADE_CLOSED"
    ]


def start_refund(seller: Seller, ids: Ids, trade: TradeRecord, ts: float, lag: int):
    """Open a refund on one sub-order of ``trade``; return it (None if nothing refundable)."""
    orders = refundable(trade)
    if not orders:
        return None
    rng = seller.rng
    order = rng.choice(orders)
    state = trade.state
    refund_id = ids.next_refund_id()
    shipped = order["status"] == "WAIT_BUYER_CONFIRM_GOODS"
    now = int(ts)
    refund_fee = order["divide_order_fee"]
    data = {
        "refund_id": refund_id,
        "tid": trade.tid,
        "oid": order["oid"],
        "status": "WAIT_SELLER_AGREE",
        "created": fmt(now),
        "modified": fmt(now),
        "title": order["title"],
        "buyer_nick": state["buyer_nick"],
        "buyer_open_uid": state["buyer_open_uid"],
        "seller_nick": seller.nick,
        "total_fee": state["payment"],
        "refund_fee": refund_fee,
        "payment": money(cents(state["payment"]) - cents(refund_fee)),
        "order_status": state["status"],
        "good_status": "BUYER_RECEIVED" if shipped else "BUYER_NOT_RECEIVED",
        "has_good_return": shipped and rng.random() < 0.7,
        "refund_phase": "onsale",
        "reason": rng.choice(["不想要了", "尺码不合适", "质量问题", "未按约定时间发货"]),
        "desc": "",
        "num": order["num"],
        "num_iid": order["num_iid"],
        "price": order["price"],
        "sku": order["sku_id"],
        "dispute_type": "REFUND",
    }
    if data["has_good_return"]:
        data["dispute_type"] = "REFUND_AND_RETURN"
    refund = Refund(
        refund_id, trade.tid, order["oid"], seller.nick, data, now, type=trade.type, created=now
    )
    refund.history.append(("WAIT_SELLER_AGREE", now))
    order["refund_status"] = "WAIT_SELLER_AGREE"
    order["refund_id"] = refund_id
    seller.add_refund(refund)
    version = seller.publish(trade, ts, lag, topic="")
    refund.modified = version.modified
    refund.data["modified"] = fmt(version.modified)
    seller.publish_refund(refund, lag)
    return refund


def advance_refund(
    seller: Seller, refund: Refund, ts: float, lag: int, not_before: int = 0
) -> bool:
    """Move ``refund`` one legal step; keep the sub-order and trade in agreement.

    ``not_before``: neither new version (trade, refund) becomes visible before then."""
    status = refund.status
    rng = seller.rng
    if status == "WAIT_SELLER_AGREE":
        roll = rng.random()
        if roll < 0.15:
            new = "SELLER_REFUSE_BUYER"
        elif roll < 0.27:
            new = "CLOSED"
        else:
            new = "WAIT_BUYER_RETURN_GOODS" if refund.data["has_good_return"] else "SUCCESS"
    elif status == "WAIT_BUYER_RETURN_GOODS":
        new = "WAIT_SELLER_CONFIRM_GOODS" if rng.random() < 0.85 else "CLOSED"
    elif status == "WAIT_SELLER_CONFIRM_GOODS":
        new = "SUCCESS"
    elif status == "SELLER_REFUSE_BUYER":
        new = "CLOSED"
    else:
        return False
    trade = seller.trades[refund.tid]
    state = trade.state
    order = next(o for o in state["orders"] if o["oid"] == refund.oid)
    order["refund_status"] = new
    if new == "SUCCESS":
        order["status"] = "TRADE_CLOSED"
        order["end_time"] = fmt(ts)
        state["status"] = _paid_status(state)
        if state["status"] == "TRADE_CLOSED":
            state["end_time"] = fmt(ts)
    # A refund step announces itself; the trade gets its own message only when the refund
    # closed a sub-order (TradePartlyRefund, or TradeClose when nothing is left open).
    trade_topic = "" if new != "SUCCESS" else None
    if new == "SUCCESS" and state["status"] != "TRADE_CLOSED":
        trade_topic = "taobao_trade_TradePartlyRefund"
    trade_lag = max(lag, not_before - int(ts))
    version = seller.publish(trade, ts, trade_lag, topic=trade_topic)
    refund.data["status"] = new
    refund.data["order_status"] = state["status"]
    refund.modified = max(refund.modified, version.modified)
    refund.data["modified"] = fmt(refund.modified)
    refund.history.append((new, refund.modified))
    seller.publish_refund(refund, lag, not_before)
    if new in ("SUCCESS", "CLOSED"):
        _drop_open(seller.open_refunds, refund)
    if state["status"] in TERMINAL:
        _drop_open(seller.open_trades, trade)
    return True


def touch_refund(seller: Seller, refund: Refund, ts: float, lag: int) -> None:
    """A change that keeps the refund's status (the buyer adds a note): bumps ``modified``."""
    refund.modified = max(int(ts), refund.modified)
    refund.data["modified"] = fmt(refund.modified)
    refund.data["desc"] = f"买家留言 {fmt(ts)}"
    seller.publish_refund(refund, lag)


def amend_refund(seller: Seller, refund: Refund, lag: int, not_before: int = 0) -> None:
    """A change that keeps the refund's status and ``modified`` second (the buyer adds a
    note): a second version of that second, with different content."""
    count = sum(1 for version in refund.versions if version.modified == refund.modified)
    refund.data["desc"] = f"买家补充说明 {count}"
    seller.publish_refund(refund, lag, not_before)


def _drop_open(items: list, item) -> None:
    # By identity and from the end, where a trade of a replayed history just went: list.remove
    # would compare every record field by field from the front, quadratic over a large history.
    for at in range(len(items) - 1, -1, -1):
        if items[at] is item:
            del items[at]
            return
