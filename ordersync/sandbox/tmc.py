"""TMC (淘宝消息服务), the HTTP-pull form: permits, per-group queues, consume and confirm.

Reference: docs/platform.md §7 (topics §7.5, content fields §7.6, delivery semantics §7.7, HTTP
consume/confirm §7.8) and §10.10 (what a simulator must reproduce).

A change to a trade or refund of a permitted seller publishes a message to every app that
permitted the seller, in the app's group for that seller: ``default`` until
``taobao.tmc.group.add`` moves the seller to a named group. A consumed message stays in its
queue, invisible for ``tmc_visibility_seconds``; unless confirmed it comes back with
``retried`` one higher. Faults: dropped messages, duplicates (a second message with its own
id), reordering (a message held back for up to ``tmc_reorder_seconds`` and shuffled batches).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass

from ordersync.sandbox.clock import fmt

MESSAGE_ID_BASE = 8_100_000_000_000_000_000  # int64 ids beyond 2^53, like the platform's
PUB_APP_KEY = "12497914"  # the publisher key official trade messages carry (docs/platform.md §7.8)
MAX_QUEUE = 200_000  # beyond this a queue drops its oldest messages (no consumer running)
DEFAULT_GROUP = "default"

TRADE_PREFIX = "taobao_trade_"
REFUND_PREFIX = "taobao_refund_"
AUTH_CANCEL = "taobao_top_AuthCancel"
TRADE_TOPICS = frozenset(
    TRADE_PREFIX + name
    for name in (
        "TradeCreate",
        "TradeBuyerPay",
        "TradeBuyerStepPay",
        "TradeSellerShip",
        "TradePartlySellerShip",
        "TradeSuccess",
        "TradePartlyRefund",
        "TradeClose",
        "TradeChanged",
        "TradeMemoModified",
    )
)
REFUND_TOPICS = frozenset(
    REFUND_PREFIX + name
    for name in (
        "RefundCreated",
        "RefundSellerAgreeAgreement",
        "RefundSellerRefuseAgreement",
        "RefundBuyerReturnGoods",
        "RefundSuccess",
        "RefundClosed",
    )
)
ALL_TOPICS = TRADE_TOPICS | REFUND_TOPICS | {AUTH_CANCEL}

# The trade topic of a status move (the new status decides).
STATUS_TOPICS = {
    "WAIT_SELLER_SEND_GOODS": "TradeBuyerPay",
    "SELLER_CONSIGNED_PART": "TradePartlySellerShip",
    "WAIT_BUYER_CONFIRM_GOODS": "TradeSellerShip",
    "TRADE_FINISHED": "TradeSuccess",
    "TRADE_CLOSED": "TradeClose",
    "TRADE_CLOSED_BY_TAOBAO": "TradeClose",
}
# The refund topic of a refund's new status.
REFUND_STATUS_TOPICS = {
    "WAIT_SELLER_AGREE": "RefundCreated",
    "WAIT_BUYER_RETURN_GOODS": "RefundSellerAgreeAgreement",
    "SELLER_REFUSE_BUYER": "RefundSellerRefuseAgreement",
    "WAIT_SELLER_CONFIRM_GOODS": "RefundBuyerReturnGoods",
    "SUCCESS": "RefundSuccess",
    "CLOSED": "RefundClosed",
}


@dataclass
class Message:
    id: int
    topic: str
    content: dict
    pub_time: float
    user_id: int
    user_nick: str
    deliver_at: float  # platform time from which consume may hand it out
    deliveries: int = 0

    def render(self) -> dict:
        return {
            "id": self.id,
            "topic": self.topic,
            "content": json.dumps(self.content, ensure_ascii=False, separators=(",", ":")),
            "pub_time": fmt(self.pub_time),
            "pub_app_key": PUB_APP_KEY,
            "user_id": self.user_id,
            "user_nick": self.user_nick,
            "retried": self.deliveries - 1,
        }


@dataclass
class Permit:
    group: str
    topics: frozenset | None  # None: every topic the app subscribes to


class Tmc:
    """Permits by (app_key, nick) and message queues by (app_key, group)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(f"{seed}:tmc")
        self.permits: dict[tuple[str, str], Permit] = {}
        self.queues: dict[tuple[str, str], dict[int, Message]] = {}
        self.last_id = 0
        self.counts: Counter = Counter()
        self.published: Counter = Counter()  # by topic

    # --- permits --------------------------------------------------------------------------
    def permit(self, app_key: str, nick: str, topics: frozenset | None) -> None:
        """Subscribe (or re-subscribe) a seller; a re-permit keeps the seller's group."""
        previous = self.permits.get((app_key, nick))
        group = previous.group if previous else DEFAULT_GROUP
        self.permits[(app_key, nick)] = Permit(group, topics)

    def add_to_group(self, app_key: str, group: str, nicks: list[str]) -> list[str]:
        """Move permitted sellers to ``group``: their new messages queue there, the ones
        already queued stay where they are (as on the platform). If any nick is not
        permitted nothing moves; return those nicks."""
        missing = [nick for nick in nicks if (app_key, nick) not in self.permits]
        if not missing:
            for nick in nicks:
                self.permits[(app_key, nick)].group = group
        return missing

    def cancel(self, app_key: str, nick: str) -> bool:
        return self.permits.pop((app_key, nick), None) is not None

    def permitted_apps(self, nick: str) -> list[tuple[str, Permit]]:
        return [(app, p) for (app, n), p in self.permits.items() if n == nick]

    # --- publishing -----------------------------------------------------------------------
    def publish(self, faults, now: float, seller, topic: str, content: dict) -> int:
        """Queue ``topic`` for every app that permitted ``seller``; return messages queued."""
        queued = 0
        for app_key, permit in self.permitted_apps(seller.nick):
            if permit.topics is not None and topic not in permit.topics:
                continue
            queued += self.enqueue(faults, now, app_key, permit.group, seller, topic, content)
        return queued

    def enqueue(self, faults, now, app_key, group, seller, topic, content) -> int:
        """Queue one message with the drop/duplicate/reorder faults applied."""
        self.published[topic] += 1
        rng = self.rng
        if faults.tmc_drop_rate and rng.random() < faults.tmc_drop_rate:
            self.counts["dropped"] += 1
            return 0
        copies = 1
        if faults.tmc_duplicate_rate and rng.random() < faults.tmc_duplicate_rate:
            copies = 2
            self.counts["duplicated"] += 1
        queue = self.queues.setdefault((app_key, group), {})
        for copy in range(copies):
            deliver_at = now
            if faults.tmc_reorder_rate and rng.random() < faults.tmc_reorder_rate:
                deliver_at += rng.uniform(0, faults.tmc_reorder_seconds)
                self.counts["delayed"] += 1
            elif copy:
                deliver_at += rng.uniform(0, 1)
            self.last_id += 1
            message = Message(
                MESSAGE_ID_BASE + self.last_id * 11,
                topic,
                dict(content),
                now,
                seller.user_id,
                seller.nick,
                deliver_at,
            )
            queue[message.id] = message
        while len(queue) > MAX_QUEUE:
            del queue[next(iter(queue))]
            self.counts["overflow"] += 1
        return copies

    # --- consuming ------------------------------------------------------------------------
    def consume(self, faults, now: float, app_key: str, group: str, quantity: int) -> list[dict]:
        """Hand out up to ``quantity`` due messages, oldest first (shuffled when reordering);
        each becomes invisible for the visibility timeout."""
        queue = self.queues.get((app_key, group or DEFAULT_GROUP), {})
        batch = []
        for message in queue.values():
            if message.deliver_at <= now:
                batch.append(message)
                if len(batch) >= quantity:
                    break
        for message in batch:
            message.deliveries += 1
            message.deliver_at = now + faults.tmc_visibility_seconds
            self.counts["delivered"] += 1
            if message.deliveries > 1:
                self.counts["redelivered"] += 1
        if faults.tmc_reorder_rate and len(batch) > 1:
            self.rng.shuffle(batch)
        return [m.render() for m in batch]

    def confirm(self, app_key: str, group: str, ids: list[int]) -> int:
        """Remove confirmed messages; unknown or already confirmed ids are ignored."""
        queue = self.queues.get((app_key, group or DEFAULT_GROUP), {})
        done = 0
        for message_id in ids:
            if queue.pop(message_id, None) is not None:
                done += 1
        self.counts["confirmed"] += done
        return done

    def stats(self, now: float) -> dict:
        queues = {}
        for (app_key, group), queue in self.queues.items():
            ready = sum(1 for m in queue.values() if m.deliver_at <= now)
            queues[f"{app_key}/{group}"] = {"pending": len(queue), "ready": ready}
        return {
            "permits": sorted(f"{app}/{nick}" for app, nick in self.permits),
            "queues": queues,
            "published": dict(self.published),
            **dict(self.counts),
        }


# --- topics and contents (docs/platform.md §7.5, §7.6) --------------------------------------------
def trade_topic(previous: dict | None, data: dict) -> str:
    """The topic of a new trade version, from what changed since ``previous``."""
    if previous is None:
        return TRADE_PREFIX + "TradeCreate"
    status = data["status"]
    if status != previous["status"]:
        return TRADE_PREFIX + STATUS_TOPICS.get(status, "TradeChanged")
    if data.get("step_trade_status") != previous.get("step_trade_status"):
        return TRADE_PREFIX + "TradeBuyerStepPay"
    if status == "SELLER_CONSIGNED_PART" and _shipped(data) > _shipped(previous):
        return TRADE_PREFIX + "TradePartlySellerShip"  # another sub-order shipped
    if data.get("seller_memo") != previous.get("seller_memo"):
        return TRADE_PREFIX + "TradeMemoModified"
    return TRADE_PREFIX + "TradeChanged"


def _shipped(data: dict) -> int:
    return sum(1 for order in data.get("orders") or [] if "consign_time" in order)


def trade_content(topic: str, data: dict) -> dict:
    orders = data.get("orders") or []
    first = orders[0] if orders else {}
    content = {
        "tid": data["tid"],
        "oid": first.get("oid", data["tid"]),
        "buyer_nick": data["buyer_nick"],
        "buyer_open_uid": data.get("buyer_open_uid", ""),
        "seller_nick": data["seller_nick"],
        "payment": data["payment"],
        "status": data["status"],
        "type": "guarantee_trade" if data["type"] in ("fixed", "auction") else data["type"],
    }
    if topic.endswith("TradeMemoModified"):
        content["action_type"] = "seller"
        content["seller_memo"] = data.get("seller_memo", "")
        content["seller_flag"] = data.get("seller_flag", 0)
    elif topic.endswith("TradeClose"):
        content["num_iid"] = first.get("num_iid")
        content["sku_id"] = first.get("sku_id")
    return content


def refund_content(data: dict) -> dict:
    return {
        "refund_id": int(data["refund_id"]),
        "tid": data["tid"],
        "oid": data["oid"],
        "buyer_nick": data["buyer_nick"],
        "buyer_open_uid": data.get("buyer_open_uid", ""),
        "seller_nick": data["seller_nick"],
        "refund_fee": data["refund_fee"],
        "refund_phase": data.get("refund_phase", "onsale"),
        "bill_type": "return_bill" if data.get("has_good_return") else "refund_bill",
        "modified": data["modified"],
    }
