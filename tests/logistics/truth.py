"""What the sandbox's parcel oracle says a tracker must have alerted by now, in the words of
the stall rules (docs/signals.md), computed from each waybill's steps and the sandbox clock."""

from __future__ import annotations

from datetime import datetime

from ordersync.taobao.types import parse_time

HOUR = 3600.0


def _at(text: str) -> datetime:
    value = parse_time(text)
    assert value is not None
    return value


def episodes(parcel: dict, now: datetime, stall_hours: float, pickup_hours: float) -> int:
    """How many stalls the parcel went into by ``now`` (the last may still be open)."""
    shown = [(_at(at), action) for at, _desc, action in parcel["steps"][: parcel["shown"]]]
    if any(action == "SIGNED" for _, action in shown) and len(shown) == 1:
        return 0  # offline-consigned: signed at once
    count = 0
    consigned = shown[0][0]
    moves = [at for at, action in shown if action != "CONSIGN"]
    pickup = moves[0] if moves else now
    count += (pickup - consigned).total_seconds() >= pickup_hours * HOUR
    ends = [*moves[1:], now]
    for start, end in zip(moves, ends, strict=False):
        signed = any(a == "SIGNED" and at <= start for at, a in shown)
        count += not signed and (end - start).total_seconds() >= stall_hours * HOUR
    return count


def stalled_now(parcel: dict, now: datetime, stall_hours: float, pickup_hours: float) -> bool:
    """Whether the parcel is in a stall at ``now``: not signed, and quiet past its threshold."""
    shown = [(_at(at), action) for at, _desc, action in parcel["steps"][: parcel["shown"]]]
    if any(action == "SIGNED" for _, action in shown):
        return False
    moves = [at for at, action in shown if action != "CONSIGN"]
    if not moves:
        return (now - shown[0][0]).total_seconds() >= pickup_hours * HOUR
    return (now - moves[-1]).total_seconds() >= stall_hours * HOUR


def last_move(parcel: dict) -> datetime:
    return _at(parcel["steps"][parcel["shown"] - 1][0])
