"""Poison records: what one window cannot sync must not stall its stream forever.

Two kinds. A listed trade whose ``trade.fullinfo.get`` says ``isv.trade-not-exist`` is most
likely the detail index lagging behind the list: the window fails (the pages written before
stay, the cursor stays) and the tid's count goes up on the checkpoint; only once it has failed
``SYNC_NOT_FOUND_ATTEMPTS`` windows (minutes apart, with the backoff) is it set aside. A
record without the keys every record has (``write.malformed``) is set aside at once: reading
it again gives the same record.

Set aside means: its list entry is written when it can be (status and ``modified`` are
current, sub-orders untouched), the window passes and the cursor moves, and the key is kept
on the checkpoint's ``progress["set_aside"]`` (and on the run's ``set_aside``) until the
reconcile fetches it (``fullinfo`` or ``refund.get``) and writes it. A key the platform does
not return to the reconcile either moves to ``progress["unresolved"]``: reported (console,
``/metrics``, reconcile report) and tried again by the next reconciles, never dropped. So the
set-aside list drains every day and never stalls a stream, however many records pile up.
The backfill keeps refunds apart from trades (``refund_set_aside``, ``refund_unresolved``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from shops.models import Checkpoint
from trades.sync.write import REQUIRED, malformed

NOT_FOUND = "trade-not-exist"
MAX_KEPT = 1000  # tids whose not-found windows are counted (the oldest counts are forgotten)
SET_ASIDE = "set_aside"
REFUND_SET_ASIDE = "refund_set_aside"  # the backfill's refunds, kept apart from its trades


def unresolved_slot(slot: str) -> str:
    """The progress key of what the reconcile could not repair from ``slot``."""
    return slot.replace("set_aside", "unresolved")


class TradesNotFound(Exception):
    """Listed trades the detail API does not find (yet): the window is read again later."""

    def __init__(self, tids: list[int]):
        shown = ", ".join(str(t) for t in tids[:5])
        super().__init__(f"trade.fullinfo.get found no trade {shown} of {len(tids)} listed")
        self.tids = tids


@dataclass
class SetAside:
    """The set-aside state of one window: what it may set aside, and what it did."""

    allowed: set[int] = field(default_factory=set)
    records: dict[str, str] = field(default_factory=dict)  # key → reason
    slot: str = SET_ASIDE  # the progress key they are kept under

    @classmethod
    def of(cls, checkpoint: Checkpoint, slot: str = SET_ASIDE) -> SetAside:
        progress = checkpoint.progress
        counts = progress.get("not_found", {})
        limit = settings.SYNC_NOT_FOUND_ATTEMPTS
        allowed = {int(tid) for tid, n in counts.items() if n >= limit}
        # already set aside: the overlap re-reads it, and it stays aside until the reconcile
        for kept in (progress.get(slot, {}), progress.get(unresolved_slot(slot), {})):
            allowed |= {int(key) for key in kept if key.isdigit()}
        return cls(allowed=allowed, slot=slot)

    def drop_malformed(
        self, items: list[dict[str, Any]], key: str, required: tuple[str, ...] = REQUIRED
    ) -> list[dict[str, Any]]:
        """``items`` without the malformed ones, which are set aside."""
        good = []
        for item in items:
            reason = malformed(item, key, required)
            if reason:
                self.records[str(item.get(key) or "?")] = f"malformed: {reason}"
            else:
                good.append(item)
        return good

    def take_not_found(self, tids: list[int]) -> None:
        """Set aside the tids that have failed often enough; raise for the others."""
        pending = [tid for tid in tids if tid not in self.allowed]
        if pending:
            raise TradesNotFound(pending)
        for tid in tids:
            self.records[str(tid)] = NOT_FOUND

    def entries(self) -> list[dict[str, Any]]:
        return [{"key": key, "reason": reason} for key, reason in self.records.items()]

    def save_on(self, checkpoint: Checkpoint) -> None:
        """Record this window's set-aside keys on ``checkpoint`` (saved by the caller)."""
        if not self.records:
            return
        progress = dict(checkpoint.progress)
        progress[self.slot] = {**progress.get(self.slot, {}), **self.records}
        counts = {k: n for k, n in progress.get("not_found", {}).items() if k not in self.records}
        progress["not_found"] = counts
        checkpoint.progress = progress


def count_not_found(progress: dict[str, Any], tids: list[int]) -> dict[str, Any]:
    """``progress`` with one more failed window counted for each of ``tids``."""
    counts = dict(progress.get("not_found", {}))
    for tid in tids:
        counts[str(tid)] = counts.get(str(tid), 0) + 1
    return {**progress, "not_found": dict(list(counts.items())[-MAX_KEPT:])}
