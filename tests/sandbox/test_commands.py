"""``manage.py taobao_sandbox`` and ``manage.py bench sandbox`` run as a developer would."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from tests.support import ROOT
from tools.bench import gateway as bench


def _sandbox(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "taobao_sandbox", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        **popen,
    )


def _stop(proc: subprocess.Popen, signum: int) -> str:
    """Send ``signum`` and return the rest of the output; a sandbox still running 30 s later
    is killed (not left behind) and fails the test."""
    proc.send_signal(signum)
    try:
        return proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"the sandbox did not stop on {signal.Signals(signum).name}") from None


def test_taobao_sandbox_command_serves_a_scenario():
    proc = _sandbox("--scenario", "demo")
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
        _stop(proc, signal.SIGINT)
    assert proc.returncode == 0


def _ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("signum", "started_with"),
    [(signal.SIGTERM, None), (signal.SIGINT, _ignore_ctrl_c)],
    ids=["sigterm", "ctrl-c, started with it ignored"],
)
def test_either_signal_saves_the_world(tmp_path, signum, started_with):
    """SIGTERM stops the sandbox as Ctrl-C does. A background job of a script starts with
    SIGINT ignored, and so does every process it starts: the sandbox handles SIGINT itself,
    so Ctrl-C still stops it and saves its world."""
    snapshot = tmp_path / "world.pickle"
    proc = _sandbox("--snapshot", str(snapshot), preexec_fn=started_with)
    try:
        line = ""
        while not line.startswith("Ctrl-C"):
            line = proc.stdout.readline()
            assert line, "the command exited early"
        assert line.strip() == "Ctrl-C (or SIGTERM) to stop, saving the world."
    finally:
        rest = _stop(proc, signum)
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
