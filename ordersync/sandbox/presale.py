"""Presale (预售) in the market: how many new trades are presale, and the ground truth.

By default a new trade is presale (``type`` step) with the weight of ``lifecycle.TYPE_WEIGHTS``
(8 in 100). A seller's market may set ``presale_share`` (any day) and ``presale_peak_share``
for the ``presale_window_days`` before each of ``peak_days`` (GMT+8 ``MM-DD``, the day itself
included): Double 11 and 618 presales take deposits for about two weeks before the day, and
then a large share of a shop's orders are presale. Stages then follow ``lifecycle.advance``:
deposit, final payment, or a forfeit (closed unpaid after the deposit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

GMT8 = timezone(timedelta(hours=8))
DEPOSIT_PAID = "FRONT_PAID_FINAL_NOPAID"
DEPOSIT_UNPAID = "FRONT_NOPAID_FINAL_NOPAID"
CLOSED = ("TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO")


@dataclass
class PresaleMix:
    share: float | None = None  # None: the type weights decide
    peak_share: float | None = None  # None: no rise before peak days
    peak_days: list[str] = field(default_factory=lambda: ["06-18", "11-11"])
    window_days: int = 14

    def share_at(self, ts: float) -> float | None:
        """The share of new trades that are presale at platform time ``ts``."""
        if self.peak_share is not None and self._before_peak(datetime.fromtimestamp(ts, GMT8)):
            return self.peak_share
        return self.share

    def _before_peak(self, at: datetime) -> bool:
        for day in self.peak_days:
            month, dom = (int(part) for part in day.split("-"))
            for year in (at.year, at.year + 1):
                peak = datetime(year, month, dom, tzinfo=GMT8)
                if timedelta(0) <= peak + timedelta(days=1) - at <= timedelta(self.window_days + 1):
                    return True
        return False

    def update(self, data: dict) -> None:
        """Apply the ``presale_*`` and ``peak_days`` keys of a market request (validated)."""
        for key, name in (("presale_share", "share"), ("presale_peak_share", "peak_share")):
            if key in data:
                value = data[key]
                setattr(self, name, None if value is None else min(1.0, max(0.0, float(value))))
        if "peak_days" in data:
            days = [str(day) for day in data["peak_days"]]
            for day in days:
                datetime.strptime(f"2024-{day} +0800", "%Y-%m-%d %z")  # ValueError: a 400
            self.peak_days = days
        if "presale_window_days" in data:
            self.window_days = max(0, int(data["presale_window_days"]))

    def as_dict(self) -> dict:
        return {
            "presale_share": self.share,
            "presale_peak_share": self.peak_share,
            "peak_days": self.peak_days,
            "presale_window_days": self.window_days,
        }


def ground_truth(trades) -> dict:
    """What the presale trades hold now, per SKU and stage, and each one's stages so far."""
    held: dict[str, dict[str, int]] = {"deposit_paid": {}, "deposit_unpaid": {}}
    stages = []
    for trade in trades:
        data = trade.current.data
        if data.get("type") != "step":
            continue
        stages.append({"tid": trade.tid, "stages": _stages(trade)})
        stage = _open_stage(data)
        if stage:
            for order in data["orders"]:
                if order["status"] not in CLOSED and order.get("refund_status") != "SUCCESS":
                    sku = str(order.get("sku_id") or "")
                    held[stage][sku] = held[stage].get(sku, 0) + int(order.get("num") or 0)
    return {"reserved": held["deposit_paid"], "pending": held["deposit_unpaid"], "trades": stages}


def _open_stage(data: dict) -> str:
    if data["status"] in CLOSED:
        return ""
    step = data.get("step_trade_status")
    return {DEPOSIT_PAID: "deposit_paid", DEPOSIT_UNPAID: "deposit_unpaid"}.get(step, "")


def _stages(trade) -> list[str]:
    """The trade's stages in the order its versions passed them, each once."""
    seen: list[str] = []
    for version in trade.versions:
        step = version.data.get("step_trade_status") or ""
        if step and (not seen or seen[-1] != step):
            seen.append(step)
    return seen
