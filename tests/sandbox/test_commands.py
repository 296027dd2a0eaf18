"""The taobao_sandbox and sandbox_bench commands run as a developer would run them."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests

from ordersync.sandbox import bench

ROOT = Path(__file__).resolve().parents[2]


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


def test_bench_reports_calls_per_second():
    figures = bench.run(seconds=1, clients=1, trades=800)
    assert figures["calls"] > 0 and figures["errors"] == 0
    assert figures["trades"] == 100 * figures["calls"]
    lines = []
    bench.report(figures, lines.append)
    assert "calls/s" in lines[0]
