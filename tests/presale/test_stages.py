"""Presale stages: which writes are transitions, and the events they carry."""

from __future__ import annotations

import pytest

from trades.presale import stages as s


@pytest.mark.parametrize(
    ("previous", "current", "events"),
    [
        ("", s.DEPOSIT_UNPAID, ()),
        ("", s.DEPOSIT_PAID, (s.DEPOSIT_PAID_EVENT,)),
        (s.DEPOSIT_UNPAID, s.DEPOSIT_PAID, (s.DEPOSIT_PAID_EVENT,)),
        (s.DEPOSIT_PAID, s.FINAL_PAID, (s.FINAL_PAID_EVENT,)),
        (s.DEPOSIT_PAID, s.FORFEITED, (s.FORFEITED_EVENT,)),
        # a version never seen: the deposit event still comes first
        (s.DEPOSIT_UNPAID, s.FINAL_PAID, (s.DEPOSIT_PAID_EVENT, s.FINAL_PAID_EVENT)),
        ("", s.FORFEITED, (s.DEPOSIT_PAID_EVENT, s.FORFEITED_EVENT)),
        # re-reads, backwards or sideways moves, unknown stages: nothing
        (s.DEPOSIT_PAID, s.DEPOSIT_PAID, ()),
        (s.FINAL_PAID, s.DEPOSIT_PAID, ()),
        (s.FORFEITED, s.FINAL_PAID, ()),
        (s.DEPOSIT_PAID, "", ()),
    ],
)
def test_transitions(previous, current, events):
    assert s.transitions(previous, current) == events


def test_only_step_trades_have_a_stage():
    assert s.stage({"type": "step", "step_trade_status": s.DEPOSIT_PAID}) == s.DEPOSIT_PAID
    assert s.stage({"type": "fixed", "step_trade_status": s.DEPOSIT_PAID}) == ""
    assert s.stage({"type": "step", "step_trade_status": "SOMETHING_NEW"}) == ""
