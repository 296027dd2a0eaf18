"""The sandbox's clock moves when a test says so, and the market moves with it."""

from __future__ import annotations

import time

import pytest
import requests

from ordersync.sandbox.clock import fmt, parse
from tests.support.sandbox_http import control, oracle


def clock(sb, body: dict) -> requests.Response:
    return requests.post(f"{sb.url}/_sandbox/clock", json=body, timeout=10)


def test_manual_time_stands_still_and_moves_only_when_advanced(sb, seller, top):
    control(sb, "POST", "clock", {"mode": "manual"})
    control(sb, "POST", "market", {"nick": "shop-a", "trades_per_minute": 6000})
    first = control(sb, "GET", "clock")
    count = len(oracle(sb))
    time.sleep(0.3)  # the market thread ticks every 0.05 s: here it must not
    assert control(sb, "GET", "clock") == first and len(oracle(sb)) == count

    moved = control(sb, "POST", "clock", {"advance": 60})

    assert moved["epoch_ms"] - first["epoch_ms"] == 60_000 and moved["mode"] == "manual"
    assert top.ok("taobao.time.get")["time"] == moved["time"]  # the gateway keeps the time
    created = sorted(parse(t["created"]) for t in oracle(sb)[count:])
    # 100 trades a second, spread over the minute that passed, not all at its end
    assert len(created) == 6000
    assert created[0] < first["epoch_ms"] / 1000 + 2 and created[-1] >= parse(moved["time"]) - 1


def test_real_time_runs_on_from_a_moved_clock(sb):
    before = time.time()
    control(sb, "POST", "clock", {"advance": 3600})
    control(sb, "POST", "clock", {"mode": "manual"})
    control(sb, "POST", "clock", {"mode": "real"})
    now = control(sb, "GET", "clock")
    assert now["mode"] == "real" and now["moved_seconds"] == pytest.approx(3600, abs=2)
    assert before + 3600 <= now["epoch_ms"] / 1000 <= time.time() + 3601


def test_set_puts_the_clock_at_a_platform_time(sb):
    control(sb, "POST", "clock", {"mode": "manual", "set": "2026-11-11 00:00:00"})
    assert control(sb, "GET", "time")["time"] == "2026-11-11 00:00:00"
    control(sb, "POST", "clock", {"set": parse("2026-11-11 00:00:00") + 90})
    assert control(sb, "GET", "time")["time"] == fmt(parse("2026-11-11 00:01:30"))


@pytest.mark.parametrize(
    "body",
    [
        {"advance": -1},
        {"advance": "soon"},
        {"advance": True},
        {"advance": 10**9},
        {"step": -1, "advance": 5},
        {"set": "tomorrow"},
        {"set": 12},
        {"set": [2026]},
        {"mode": "fast"},
        {"speed": 2},
    ],
)
def test_a_bad_clock_request_is_a_400_and_moves_nothing(sb, body):
    before = control(sb, "GET", "clock")["moved_seconds"]
    response = clock(sb, body)
    assert response.status_code == 400, response.text
    assert "error" in response.json()
    assert control(sb, "GET", "clock")["moved_seconds"] == before
