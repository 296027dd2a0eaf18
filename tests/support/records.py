"""Records as the platform's APIs render them, for tests that write without a sandbox."""

from __future__ import annotations


def wire_trade(
    tid: int = 1,
    status: str = "WAIT_BUYER_PAY",
    modified: str = "2026-11-11 00:00:10",
    oids: tuple[int, ...] | None = None,
) -> dict:
    """A trade as ``trade.fullinfo.get`` returns it, with one sub-order per ``oids`` (one
    numbered like the trade without them)."""
    return {
        "tid": tid,
        "status": status,
        "type": "fixed",
        "created": "2026-11-11 00:00:00",
        "modified": modified,
        "payment": "10.50",
        "orders": [
            {"oid": oid, "status": status, "price": "10.50", "num": 1} for oid in oids or (tid,)
        ],
    }
