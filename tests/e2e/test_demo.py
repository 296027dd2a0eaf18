"""``manage.py demo`` as a newcomer runs it: the service comes up, the curl it prints returns
trades, the TMC consumer runs, a webhook reaches a receiver on this machine, Ctrl-C and
SIGTERM stop every child within seconds saying what they wait for, and the backfilled trades
match the sandbox's own record of its world."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests

from ordersync.embedded_db import embedded_database_url, forget_dead_handles, stop_server
from ordersync.sandbox.clock import fmt, parse
from ordersync.sandbox.world import World
from tests.support import ROOT, databases
from tools.bench.receiver import Behaviour, Receiver
from trades.webhooks.signing import verify_signature

pytestmark = pytest.mark.e2e
LAG_MARGIN = 60  # seconds: the sandbox's index lag in the demo is 20 s
CHILDREN = ("qcluster", "tmc", "web", "sandbox")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ", re.M)


def start_demo(env: dict, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", "0", "--sandbox-port", "0", *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(demo: subprocess.Popen, marker: str) -> str:
    """The demo's output up to and including the first line holding ``marker``."""
    lines = []
    for line in demo.stdout:
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError(f"the demo ended before {marker!r}:\n{''.join(lines)[-3000:]}")


def stop_demo(demo: subprocess.Popen, signum: int) -> tuple[str, float]:
    """Send ``signum``; return the rest of the output and the seconds the stop took."""
    began = time.monotonic()
    demo.send_signal(signum)
    rest, _ = demo.communicate(timeout=120)
    return rest, time.monotonic() - began


def end(demo: subprocess.Popen) -> None:
    """After a failure: stop the demo as a user would, so that it stops its children (each
    runs in a session of its own, which killing the demo alone would leave running)."""
    if demo.poll() is None:
        demo.send_signal(signal.SIGINT)
        try:
            demo.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            demo.kill()


@pytest.fixture
def data_dir(tmp_path, django_db_setup, django_db_blocker):
    """A new data folder whose embedded database holds the tests' migrated template (the
    demo's own migrate then finds nothing to do), its server stopped as a user leaves it."""
    data = tmp_path / "data"
    with django_db_blocker.unblock():
        databases.restore_template(embedded_database_url(data))
    stop_server(data)
    yield data
    if (data / "postgres" / "PG_VERSION").exists():
        stop_server(data)


@pytest.fixture
def env(data_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DATABASE_URL"))}
    env["ORDERSYNC_DATA_DIR"] = str(data_dir)
    return env


def test_the_quick_start_ends_with_the_printed_curl_returning_trades(env, data_dir):
    demo = start_demo(env)
    try:
        banner = read_until(demo, "Backfilling")
        text = banner + read_until(demo, "trades |")  # the first status line
        assert LOG_LINE.search(text) is None, text  # no log line cut into the banner
        curl = re.search(r"^  try +(curl .*)$", banner, re.M).group(1)
        web = re.search(r"admin +(http://127\.0\.0\.1:\d+)/admin/", banner).group(1)
        key = re.search(r"API key +(\S+)", banner).group(1)

        # the exact printed command, split as a shell would split it
        answer = subprocess.run(
            shlex.split(curl), capture_output=True, text=True, timeout=60, check=True
        )
        trades = json.loads(answer.stdout)["results"]
        assert len(trades) > 0 and all("tid" in trade for trade in trades)
        # the console opens in Chinese; its switch's cookie turns it English
        login = f"{web}/admin/login/"
        assert "ordersync 控制台" in requests.get(login, timeout=30).text
        english = requests.get(login, cookies={"ordersync_language": "en"}, timeout=30).text
        assert "ordersync console" in english and "控制台" not in english

        _tmc_brings_changes(demo, data_dir)
        _a_webhook_reaches_a_receiver_on_this_machine(web, key, banner)
        rest, took = stop_demo(demo, signal.SIGINT)
    finally:
        end(demo)
    assert demo.returncode == 0, rest[-3000:]
    _stopped_in_order_within_seconds(rest, took, "Ctrl-C")
    assert forget_dead_handles(data_dir / "postgres") == []  # no child left running
    assert "Stopped the embedded PostgreSQL" in stop_server(data_dir)


def _tmc_brings_changes(demo: subprocess.Popen, data_dir: Path) -> None:
    """The consumer runs as a child and its freshness shows in the status line."""
    line = read_until(demo, "TMC lag")
    assert re.search(r"TMC lag [\d.]+s \(last message \d+s ago\)", line), line
    assert "TMC consumer running for demo-app" in (data_dir / "logs" / "tmc.log").read_text()
    assert re.search(r"newest change \d+s old \| max cursor lag \d+s", line), line


def _a_webhook_reaches_a_receiver_on_this_machine(web: str, key: str, banner: str) -> None:
    assert "receivers on this machine (127.0.0.1, ::1, localhost) allowed" in banner
    with Receiver(Behaviour()) as receiver:
        created = requests.post(
            f"{web}/api/v1/webhook-endpoints/",
            json={"url": receiver.url, "event_types": ["trade.created", "trade.updated"]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 120
        while not receiver.received:  # the live market's next change of an acme shop
            assert time.monotonic() < deadline, "no webhook reached the loopback receiver"
            time.sleep(0.5)
    first = receiver.received[0]
    verify_signature([created.json()["secret"]], first.headers, first.body)
    assert json.loads(first.body)["type"] in ("trade.created", "trade.updated")


def _stopped_in_order_within_seconds(rest: str, took: float, cause: str) -> None:
    assert f"{cause}: stopping …" in rest, rest
    said = re.findall(r"^  stopping (\w+)(?:: (.+))? …$", rest, re.M)
    assert [name for name, _ in said] == list(CHILDREN), rest
    assert all(reason for _, reason in said), rest  # each says what it waits for
    for name in CHILDREN:
        stopped = re.search(rf"^  {name} stopped in ([\d.]+) s$", rest, re.M)
        assert stopped and float(stopped.group(1)) < 10, rest  # not killed after its time
    assert "Stopped qcluster, then tmc, then web, then sandbox." in rest
    print(f"{cause}: every child stopped in {took:.1f} s")
    assert took < 30, rest


def test_demo_backfills_every_shop_and_sigterm_saves_the_world_like_ctrl_c(env, data_dir):
    _ctrl_c_during_the_backfills_pauses_them(env)
    demo = start_demo(env, "--exit-after-backfill")
    try:
        text = read_until(demo, "  metrics")
        key = re.search(r"API key +(\S+)", text).group(1)
        rest, _ = demo.communicate(timeout=600)
    finally:
        end(demo)
    assert demo.returncode == 0, (text + rest)[-3000:]
    assert "Backfills done." in rest
    snapshot = data_dir / "sandbox-world.pickle"
    world = World.load(str(snapshot))
    with psycopg.connect(embedded_database_url(data_dir)) as conn:
        for nick, seller in world.sellers.items():
            _assert_backfilled(conn, nick, seller)
        (synced,) = conn.execute("SELECT count(*) FROM trades_trade").fetchone()

    saved = snapshot.stat().st_mtime
    _second_run_resumes_and_stops_on_sigterm(env, key, synced)
    assert snapshot.stat().st_mtime > saved  # the sandbox saved its world on SIGTERM

    snapshot.unlink()
    third = subprocess.run(
        [sys.executable, "manage.py", "demo", "--port", "0", "--sandbox-port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert third.returncode != 0
    assert "The sandbox's saved world" in third.stderr and "is missing" in third.stderr
    assert "--new-sandbox" in third.stderr
    assert "Building the sandbox" not in third.stdout
    assert not snapshot.exists()  # said, not silently rebuilt


def _ctrl_c_during_the_backfills_pauses_them(env: dict) -> None:
    """A worker finishes its task before it stops; asked to pause, a backfill ends after
    its slice, so the workers stop in seconds (the run below resumes and completes them)."""
    demo = start_demo(env)
    try:
        read_until(demo, "Backfilling")
        line = ""
        while not re.search(r"\[#+\.+\]", line):  # a backfill under way
            line = demo.stdout.readline()
            assert line, "the demo ended during the backfills"
        rest, took = stop_demo(demo, signal.SIGINT)
    finally:
        end(demo)
    assert demo.returncode == 0, rest[-3000:]
    _stopped_in_order_within_seconds(rest, took, "Ctrl-C")


def _second_run_resumes_and_stops_on_sigterm(env: dict, key: str, synced: int) -> None:
    demo = start_demo(env)
    try:
        text = read_until(demo, "trades |")
        assert "Building the sandbox" not in text, text  # the sandbox's world was restored
        assert f"API key    {key}" in text and "(new:" not in text, text
        live = int(re.search(r"([\d,]+) trades \|", text).group(1).replace(",", ""))
        assert live >= synced
        web = re.search(r"admin +(http://127\.0\.0\.1:\d+)/admin/", text).group(1)
        _wait_until_healthy(web)
        rest, took = stop_demo(demo, signal.SIGTERM)
    finally:
        end(demo)
    assert demo.returncode == 0, rest[-3000:]
    _stopped_in_order_within_seconds(rest, took, "SIGTERM")


def _wait_until_healthy(web: str, timeout: float = 180) -> None:
    """/healthz turns 200 once a worker of the real qcluster has run a heartbeat."""
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
