"""What a trace says and what follows from it: events, pickup, signing, stalls, the next read.

Pure functions of a parcel's stored fields and the platform time ``now``; the tracker
(``tracking.py``) stores what they return. Reference: docs/platform.md §4.10.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from ordersync.taobao.types import parse_time
from trades.logistics.models import Parcel

CONSIGN, SIGNED = "CONSIGN", "SIGNED"
SIGNED_WORD = "签收"
# the interval between reads is this share of the parcel's age plus its quiet time
INTERVAL_SHARE = 1 / 8


def events_of(body: dict[str, Any]) -> list[list[str]]:
    """The answer's trace as ``[time, description, action]`` rows, oldest first."""
    rows = [
        [
            str(step.get("status_time") or ""),
            str(step.get("status_desc") or ""),
            str(step.get("action") or ""),
        ]
        for step in body.get("trace_list") or []
    ]
    return sorted(row for row in rows if row[0])


def merged(known: list[list[str]], read: list[list[str]]) -> list[list[str]]:
    """Every event of both, each once, oldest first: an older answer never loses one."""
    return sorted({tuple(row): row for row in [*known, *read]}.values())


def is_signed(events: list[list[str]], status: str) -> bool:
    return SIGNED_WORD in status or any(row[2] == SIGNED for row in events)


def last_movement(events: list[list[str]]) -> datetime | None:
    return parse_time(events[-1][0]) if events else None


def picked_up(events: list[list[str]]) -> bool:
    """Whether the carrier has the parcel: any step after the seller's consignment."""
    return any(row[2] != CONSIGN for row in events)


def threshold(parcel: Parcel) -> datetime:
    """When the parcel counts as stalled unless it moves before."""
    if not parcel.picked_up:
        return parcel.consigned_at + timedelta(hours=settings.LOGISTICS_PICKUP_HOURS)
    moved = parcel.last_event_at or parcel.consigned_at
    return moved + timedelta(hours=settings.LOGISTICS_STALL_HOURS)


def stall_of(parcel: Parcel, now: datetime) -> str:
    """The stall the parcel is in at ``now`` ("" when none, or when it is done)."""
    if parcel.done or now < threshold(parcel):
        return ""
    return Parcel.Stall.NO_MOVEMENT if parcel.picked_up else Parcel.Stall.NO_PICKUP


def next_check(parcel: Parcel, now: datetime) -> datetime | None:
    """When to read the trace again: later as the parcel ages and stays quiet, between the
    minimum and maximum interval, and no later than the moment it would count as stalled
    (a stall is raised only on a fresh read). None once the parcel is done."""
    if parcel.done:
        return None
    quiet = now - (parcel.last_event_at or parcel.consigned_at)
    hours = ((now - parcel.consigned_at) + quiet).total_seconds() / 3600 * INTERVAL_SHARE
    hours = min(max(hours, settings.LOGISTICS_MIN_CHECK_HOURS), settings.LOGISTICS_MAX_CHECK_HOURS)
    at = now + timedelta(hours=hours)
    if not parcel.stall:
        at = min(at, max(threshold(parcel), now))
    return at


def state(parcel: Parcel) -> str:
    """The parcel's state in the change feed's ``status``: its stall, why it is done, or
    ``moving`` / ``consigned``."""
    return parcel.stall or parcel.done or ("moving" if parcel.picked_up else "consigned")
