"""Presale in the sandbox's market: its share (higher before peak days) and its ground truth."""

from __future__ import annotations

from datetime import datetime

import requests

from ordersync.sandbox.presale import GMT8, PresaleMix
from tests.support.sandbox_http import control, make_seller


def at(day: str) -> float:
    return datetime.fromisoformat(f"{day} 12:00:00").replace(tzinfo=GMT8).timestamp()


def test_the_peak_share_holds_for_the_window_before_each_peak_day():
    mix = PresaleMix(share=0.1, peak_share=0.4, window_days=14)
    assert mix.share_at(at("2026-11-11")) == 0.4
    assert mix.share_at(at("2026-10-28")) == 0.4
    assert mix.share_at(at("2026-10-27")) == 0.1
    assert mix.share_at(at("2026-11-12")) == 0.1
    assert mix.share_at(at("2026-06-10")) == 0.4
    assert PresaleMix().share_at(at("2026-11-11")) is None  # the type weights decide


def test_trades_go_through_every_stage_and_the_oracle_holds_their_units(sb, app):
    make_seller(sb, "pre", history_trades=0)
    control(sb, "POST", "market", {"nick": "pre", "presale_share": 1.0, "burst": 200})
    truth = control(sb, "GET", "oracle/presale", nick="pre")
    assert len(truth["trades"]) == 200 and truth["reserved"] == {}
    assert sum(truth["pending"].values()) > 200  # every sub-order, each one or more units
    for _ in range(6):
        control(sb, "POST", "market", {"nick": "pre", "changes": 300})
    truth = control(sb, "GET", "oracle/presale", nick="pre")
    last = {t["stages"][-1] for t in truth["trades"]}
    assert last >= {
        "FRONT_NOPAID_FINAL_NOPAID",
        "FRONT_PAID_FINAL_PAID",
        "FRONT_PAID_FRONT_FORFEITED",
    }
    for trade in truth["trades"]:
        assert trade["stages"][0] == "FRONT_NOPAID_FINAL_NOPAID"
        assert "FRONT_PAID_FINAL_NOPAID" in trade["stages"] or len(trade["stages"]) == 1
    trades = control(sb, "GET", "oracle/trades", nick="pre")["trades"]
    assert {t["type"] for t in trades} == {"step"}


def test_a_bad_presale_setting_is_a_400(sb, app):
    make_seller(sb, "pre", history_trades=0)
    for bad in ({"presale_share": "x"}, {"peak_days": ["13-40"]}):
        response = requests.post(f"{sb.url}/_sandbox/market", json={"nick": "pre", **bad})
        assert response.status_code == 400, response.text
