"""Parcels in the market: the trace of every waybill, advancing with the sandbox clock.

A waybill's fate is drawn once, from a random stream of its own (so drawing it disturbs no
other part of the market), against the seller's :class:`LogisticsMix` at the moment it is
first needed: normal, stalled (quiet for ``stall_gap_hours`` somewhere on the way, then moving
again), lost (never moves again after some hop), never picked up, or offline-consigned (its
status jumps to signed at once; docs/platform.md §4.10). Each fate's steps are times after the
consignment; ``taobao.logistics.trace.search`` shows the steps whose time has come, and the
oracle shows each parcel's fate and steps, past and future.

A consignment of several sub-orders goes out on one waybill, or with ``split_share`` on one
waybill per sub-order (``lifecycle._consign``): the trace of such a trade is then read per
sub-order (``is_split=1``, ``sub_tid``).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from ordersync.sandbox import clock

HOUR = 3600
NORMAL, STALLED, LOST, UNPICKED, OFFLINE = "normal", "stalled", "lost", "never_picked_up", "offline"
SIGNED_DESC = "对方已签收"
CITIES = ["杭州", "嘉兴", "上海", "南京", "合肥", "武汉", "郑州", "广州", "成都"]


@dataclass
class LogisticsMix:
    """The shares of parcels of each fate (the rest are normal), and the stall's length."""

    stall_share: float = 0.03
    lost_share: float = 0.005
    unpicked_share: float = 0.01
    offline_share: float = 0.05
    split_share: float = 0.2  # of consignments of several sub-orders: one waybill each
    stall_gap_hours: float = 100.0
    fates: dict[str, str] = field(default_factory=dict)  # out_sid -> fate, once drawn

    def update(self, data: dict) -> None:
        """Apply the ``logistics_*`` keys of a market request (ValueError: a 400)."""
        for name in ("stall_share", "lost_share", "unpicked_share", "offline_share", "split_share"):
            key = f"logistics_{name}"
            if key in data:
                setattr(self, name, min(1.0, max(0.0, float(data[key]))))
        if "logistics_stall_gap_hours" in data:
            self.stall_gap_hours = max(0.0, float(data["logistics_stall_gap_hours"]))

    def as_dict(self) -> dict:
        return {f"logistics_{k}": v for k, v in asdict(self).items() if k != "fates"}

    def fate(self, out_sid: str) -> str:
        """The fate of a waybill: drawn the first time, the same ever after."""
        if out_sid not in self.fates:
            roll = random.Random(f"fate:{out_sid}").random()
            self.fates[out_sid] = _pick(roll, self._shares())
        return self.fates[out_sid]

    def _shares(self) -> list[tuple[str, float]]:
        return [
            (OFFLINE, self.offline_share),
            (UNPICKED, self.unpicked_share),
            (LOST, self.lost_share),
            (STALLED, self.stall_share),
        ]

    def split(self, key: str) -> bool:
        """Whether a consignment of several sub-orders goes out on one waybill each."""
        return random.Random(f"split:{key}").random() < self.split_share


def _pick(roll: float, shares: list[tuple[str, float]]) -> str:
    for fate, share in shares:
        if roll < share:
            return fate
        roll -= share
    return NORMAL


def steps(fate: str, out_sid: str, sent: int, gap_hours: float) -> list[tuple[int, str, str]]:
    """Every step of a waybill consigned at ``sent``: (time, description, action)."""
    if fate == OFFLINE:
        return [(sent, SIGNED_DESC, "SIGNED")]
    rng = random.Random(f"trace:{out_sid}")
    at = sent
    out = [(at, "卖家已发货", "CONSIGN")]
    if fate == UNPICKED:
        return out
    at += int(rng.uniform(1, 8) * HOUR)
    out.append((at, "快件已揽收", "GOT"))
    hops = rng.randint(3, 5)
    quiet_before = rng.randint(0, hops - 1)  # the hop a stalled or lost parcel stops before
    for hop in range(hops):
        if hop == quiet_before and fate == LOST:
            return out
        if hop == quiet_before and fate == STALLED:
            at += int(gap_hours * HOUR)
        at += int(rng.uniform(4, 20) * HOUR)
        out.append((at, f"快件已到达【{rng.choice(CITIES)}转运中心】", "TRANSPORT"))
    at += int(rng.uniform(2, 10) * HOUR)
    out.append((at, "快件派送中", "DELIVERING"))
    at += int(rng.uniform(1, 6) * HOUR)
    out.append((at, SIGNED_DESC, "SIGNED"))
    return out


def waybills(state: dict) -> dict[str, list[dict]]:
    """The trade's shipped sub-orders by waybill (``invoice_no``), in order of consignment."""
    out: dict[str, list[dict]] = {}
    for order in state["orders"]:
        if order.get("consign_time") and order.get("invoice_no"):
            out.setdefault(order["invoice_no"], []).append(order)
    return out


def parcel(mix: LogisticsMix, tid: int, out_sid: str, orders: list[dict]) -> dict:
    """One waybill: its fate and every step, future ones included."""
    sent = clock.parse(orders[0]["consign_time"])
    fate = mix.fate(out_sid)
    return {
        "tid": tid,
        "out_sid": out_sid,
        "company_name": orders[0].get("logistics_company", ""),
        "oids": [order["oid"] for order in orders],
        "fate": fate,
        "consigned": sent,
        "steps": steps(fate, out_sid, sent, mix.stall_gap_hours),
    }


def trace(found: dict, now: float) -> dict:
    """The answer of ``taobao.logistics.trace.search`` for one waybill at ``now``."""
    shown = [step for step in found["steps"] if step[0] <= now]
    return {
        "tid": found["tid"],
        "out_sid": found["out_sid"],
        "company_name": found["company_name"],
        "status": shown[-1][1],
        "trace_list": [
            {"status_time": clock.fmt(at), "status_desc": desc, "action": action}
            for at, desc, action in shown
        ],
    }


def ground_truth(mix: LogisticsMix, trades, now: float) -> dict:
    """Every waybill of the seller's trades: fate, the trade's status, the steps shown by now
    and the time of the next one (None: no step is to come)."""
    parcels = []
    for trade in trades:
        state = trade.current.data
        for out_sid, orders in waybills(state).items():
            found = parcel(mix, trade.tid, out_sid, orders)
            shown = [at for at, _, _ in found["steps"] if at <= now]
            later = [at for at, _, _ in found["steps"] if at > now]
            parcels.append(
                {
                    **{k: v for k, v in found.items() if k != "steps"},
                    "consigned": clock.fmt(found["consigned"]),
                    "trade_status": state["status"],
                    "split": len(waybills(state)) > 1,
                    "steps": [[clock.fmt(at), desc, action] for at, desc, action in found["steps"]],
                    "shown": len(shown),
                    "next_step_at": clock.fmt(later[0]) if later else None,
                }
            )
    return {"now": clock.fmt(now), "parcels": parcels}
