"""``manage.py demo`` as a newcomer runs it: the service comes up, the API and the admin
answer, and the backfilled trades match the sandbox's own record of its world."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests

from ordersync.sandbox.clock import fmt, parse
from ordersync.sandbox.world import World
from tests.support import ROOT

pytestmark = pytest.mark.e2e
LAG_MARGIN = 60  # seconds: the sandbox's index lag in the demo is 20 s


def start_demo(env: dict, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", "0", "--sandbox-port", "0", *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_demo_runs_the_service_and_backfills_every_shop(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DATABASE_URL"))}
    env["ORDERSYNC_DATA_DIR"] = str(tmp_path / "data")
    demo = start_demo(env, "--exit-after-backfill")
    try:
        output = []
        for line in demo.stdout:
            output.append(line)
            if line.startswith("  metrics"):
                break
        text = "".join(output)
        web = re.search(r"admin +(http://127\.0\.0\.1:\d+)/admin/", text).group(1)
        key = re.search(r"API key +(\S+)", text).group(1)

        # the service answers while the workers backfill
        assert requests.get(f"{web}/admin/login/", timeout=30).status_code == 200
        trades = requests.get(
            f"{web}/api/v1/trades", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        assert trades.status_code == 200, trades.text
        assert requests.get(f"{web}/api/v1/trades", timeout=30).status_code == 401
        assert requests.get(f"{web}/metrics", timeout=30).status_code == 200

        rest, _ = demo.communicate(timeout=600)
        output.append(rest)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, "".join(output)[-3000:]
    assert "Backfills done." in rest

    world = World.load(str(tmp_path / "data" / "sandbox-world.pickle"))
    url = _embedded_url(tmp_path / "data")
    with psycopg.connect(url) as conn:
        for nick, seller in world.sellers.items():
            _assert_backfilled(conn, nick, seller)
        (synced,) = conn.execute("SELECT count(*) FROM trades_trade").fetchone()

    try:
        _second_run_resumes_and_stops_on_ctrl_c(env, key, synced)
    finally:
        _stop_embedded(tmp_path / "data")


def _second_run_resumes_and_stops_on_ctrl_c(env: dict, key: str, synced: int) -> None:
    demo = start_demo(env)
    try:
        output = []
        for line in demo.stdout:
            output.append(line)
            if "trades synced" in line:
                break
        text = "".join(output)
        assert "Building the sandbox" not in text, text  # the sandbox's world was restored
        assert f"API key    {key}" in text and "(new:" not in text, text
        live = int(re.search(r"([\d,]+) trades synced", text).group(1).replace(",", ""))
        assert live >= synced
        web = re.search(r"admin +(http://127\.0\.0\.1:\d+)/admin/", text).group(1)
        _wait_until_healthy(web)
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, rest[-3000:]
    assert "Stopped qcluster, then web, then sandbox." in rest, rest[-3000:]


def _wait_until_healthy(web: str, timeout: float = 180) -> None:
    """/healthz turns 200 once the real qcluster's heartbeat schedule has run."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(f"{web}/healthz", timeout=30)
        if response.status_code == 200:
            assert response.json()["checks"]["cluster"].startswith("ok"), response.text
            return
        assert time.monotonic() < deadline, response.text
        time.sleep(2)


def _assert_backfilled(conn, nick: str, seller) -> None:
    (progress,) = conn.execute(
        "SELECT c.progress FROM shops_checkpoint c JOIN shops_shop s ON s.id = c.shop_id"
        " WHERE s.seller_nick = %s AND c.stream = 'backfill'",
        [nick],
    ).fetchone()
    until = progress["until"]
    ours = dict(
        conn.execute(
            "SELECT t.tid, t.status FROM trades_trade t JOIN shops_shop s ON s.id = t.shop_id"
            " WHERE s.seller_nick = %s",
            [nick],
        ).fetchall()
    )
    settled = 0
    for trade in seller.by_created:
        data = trade.current.data
        # the list lags the platform: the last seconds before `until` are the increment's job
        if data["created"] < _minus(until, LAG_MARGIN):
            assert trade.tid in ours, (
                f"{nick}: trade {trade.tid} created {data['created']} missing (until {until})"
            )
        # a trade unchanged since well before the backfill began must be exactly as listed
        if data["modified"] < _minus(until, LAG_MARGIN):
            assert ours[trade.tid] == data["status"], f"{nick}: trade {trade.tid} stale"
            settled += 1
    assert settled > 0


def _minus(stamp: str, seconds: int) -> str:
    return fmt(parse(stamp) - seconds)


def _embedded_url(data_dir: Path) -> str:
    from ordersync.embedded_db import embedded_database_url

    return embedded_database_url(data_dir)


def _stop_embedded(data_dir: Path) -> None:
    import pgserver

    pgserver.get_server(data_dir / "postgres", cleanup_mode="stop").cleanup()
