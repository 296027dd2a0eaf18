"""Presale (预售) stages: which trades are presale, and which transitions their writes make.

A trade is presale when its ``type`` is ``step``; its stage is its ``step_trade_status``
(docs/platform.md §5.1). The stages form a path: deposit unpaid → deposit paid → final paid,
or deposit paid → deposit forfeited. A write that moves a trade along the path yields one
event per transition it passed, so a version we never saw (the list showed the trade only
after its final payment) still yields the deposit event before the final one.
"""

from __future__ import annotations

DEPOSIT_UNPAID = "FRONT_NOPAID_FINAL_NOPAID"
DEPOSIT_PAID = "FRONT_PAID_FINAL_NOPAID"
FINAL_PAID = "FRONT_PAID_FINAL_PAID"
FORFEITED = "FRONT_PAID_FRONT_FORFEITED"

DEPOSIT_PAID_EVENT = "trade.presale_deposit_paid"
FINAL_PAID_EVENT = "trade.presale_final_paid"
FORFEITED_EVENT = "trade.presale_forfeited"

# the transitions leading into each stage from the one before it on the path
_PATH = {
    DEPOSIT_UNPAID: (),
    DEPOSIT_PAID: (DEPOSIT_PAID_EVENT,),
    FINAL_PAID: (DEPOSIT_PAID_EVENT, FINAL_PAID_EVENT),
    FORFEITED: (DEPOSIT_PAID_EVENT, FORFEITED_EVENT),
}

# the API's names for the stages a trade holds stock in (reserved) or may soon (pending)
OPEN_STAGES = {"deposit_unpaid": DEPOSIT_UNPAID, "deposit_paid": DEPOSIT_PAID}

# SQL: the stored trade's presale stage ("" for any other trade); the write path locks with it
STAGE_SQL = "CASE WHEN type = 'step' THEN step_trade_status ELSE '' END"


def stage(trade: dict) -> str:
    """The presale stage of a wire trade; "" when it is not presale (or the stage unknown)."""
    if trade.get("type") != "step":
        return ""
    value = trade.get("step_trade_status") or ""
    return value if value in _PATH else ""


def transitions(previous: str, current: str) -> tuple[str, ...]:
    """The events of moving from stage ``previous`` to ``current`` ("" = none yet); none when
    the stage did not move forward (a re-read, or an unknown stage)."""
    if current not in _PATH or previous == current:
        return ()
    passed = _PATH.get(previous, ())
    path = _PATH[current]
    if path[: len(passed)] != passed:
        return ()  # not forward along one path (forfeited → final paid): nothing to announce
    return path[len(passed) :]
