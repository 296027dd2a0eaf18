"""``manage.py taobao_sandbox`` and ``manage.py bench sandbox`` run as a developer would."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests

from tests.support import ROOT
from tools.bench import gateway as bench


def test_taobao_sandbox_command_serves_a_scenario():
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "taobao_sandbox", "--port", "0", "--scenario", "demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or not lines[-1].startswith("Ctrl-C"):
            line = proc.stdout.readline()
            assert line, "the command exited early"
            lines.append(line.strip())
        url = lines[0].split(" at ")[1].split()[0]
        assert "app_key 10000001  app_secret sandbox-secret" in lines
        nick = next(line.split()[1] for line in lines if line.startswith("seller "))
        trades = requests.get(f"{url}/_sandbox/oracle/trades", params={"nick": nick}).json()
        assert len(trades["trades"]) >= 400
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_sigterm_saves_the_world_as_ctrl_c_does(tmp_path):
    snapshot = tmp_path / "world.pickle"
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "taobao_sandbox", "--port", "0", "--snapshot", snapshot],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        while not line.startswith("Ctrl-C"):
            line = proc.stdout.readline()
            assert line, "the command exited early"
        assert line.strip() == "Ctrl-C (or SIGTERM) to stop, saving the world."
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"Saved the world to {snapshot}." in rest
    assert snapshot.stat().st_size > 0


def check_consistent(figures: dict) -> None:
    """The report's fields agree with each other and with the sandbox's own count."""
    assert figures["calls"] > 0 and figures["errors"] == 0
    assert figures["served"] == figures["calls"] + figures["errors"]  # every call counted
    assert figures["trades"] == 100 * figures["calls"]  # every page was a full page
    assert figures["calls_per_second"] == figures["calls"] / figures["seconds"]
    assert figures["window_trades"] >= 200  # at least two full pages to draw from
    assert 0 < figures["scans"] <= figures["served"]  # a list is computed at most once a call


def test_bench_on_a_live_world_recomputes_every_list():
    figures = bench.run(seconds=1, clients=1, trades=800)  # defaults: live 600/min, lag 60 s
    check_consistent(figures)
    assert figures["live"] == 600 and figures["lag"] == 60
    assert figures["changes"] > 0  # the market moved during the run
    lines = []
    bench.report(figures, lines.append)
    assert f"{figures['calls']} list calls of 100 trades" in lines[0]
    assert f"{figures['scans']} lists computed" in lines[0] and "calls/s" in lines[0]


def test_bench_on_a_static_world_reports_cached_lists():
    figures = bench.run(seconds=1, clients=1, trades=800, live=0, lag=0)
    check_consistent(figures)
    assert figures["changes"] == 0
    # one window a second (the client's end_modified), so about one list computed a second
    assert figures["scans"] <= 2 * (figures["seconds"] + 2)
    lines = []
    bench.report(figures, lines.append)
    assert "static world" in lines[0]


def test_bench_with_spread_windows_computes_nearly_every_list():
    figures = bench.run(seconds=1, clients=1, trades=1600, live=0, lag=0, spread=3600)
    check_consistent(figures)
    # windows of their own (3,600 possible ends): nearly every call computes its list
    assert figures["scans"] >= 0.9 * figures["served"]
    lines = []
    bench.report(figures, lines.append)
    assert "windows ending up to 3600 s ago" in lines[0]
