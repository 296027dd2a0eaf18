"""Zero loss end to end: a real qcluster with two workers syncs several shops of a live,
faulty sandbox; one worker is killed with SIGKILL mid-run; afterwards every trade and refund
of the oracle is in PostgreSQL with the oracle's status and modified, and nothing else is.
The same cluster delivers the webhooks of those writes to a receiver that fails one request
in five: every event arrives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django_q.models import OrmQ, Schedule
from django_q.tasks import async_task

from ordersync.bench.receiver import Behaviour, Receiver
from shops.actions import onboard_shop
from shops.models import Checkpoint, Shop, SyncRun
from tests.support.oracle import assert_matches_oracle
from trades.webhook_models import WebhookDelivery, WebhookEvent
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.tasks import SWEEP_TASK

ROOT = Path(__file__).resolve().parents[2]
LAG = 4
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def start_cluster(database_url: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url,
        Q_WORKERS="2",
        Q_TIMEOUT="30",
        Q_RETRY="40",
        TOP_READ_TIMEOUT="1",
        TOP_BACKOFF_CAP="0.3",
        SYNC_LAG_SECONDS=str(LAG),
        LOG_LEVEL="INFO",
        WEBHOOKS_ALLOW_PRIVATE="true",  # the receiver is on loopback
        WEBHOOKS_TIMEOUT="3",
        WEBHOOKS_RETRY_SECONDS="0.5,1,1,2,2,2,2,2,2,2",
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def worker_mid_run(cluster: subprocess.Popen) -> int | None:
    """The pid of a cluster worker that is in the middle of a sync run, if one is."""
    pids = {p.pid for p in psutil.Process(cluster.pid).children(recursive=True)}
    for worker in SyncRun.objects.filter(outcome="running").values_list("worker", flat=True):
        pid = int(worker.rsplit(":", 1)[1])
        if pid in pids:
            return pid
    return None


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def backfilled(shops) -> bool:
    return all(
        Checkpoint.objects.get(shop=shop, stream="backfill").progress.get("finished_at")
        for shop in shops
    )


def synced_since(shops, since) -> bool:
    return all(
        SyncRun.objects.filter(
            shop=shop, stream=stream, kind="incremental", outcome="succeeded", started_at__gt=since
        ).exists()
        for shop in shops
        for stream in ("trades", "refunds")
    )


def stop_cluster(cluster: subprocess.Popen) -> None:
    os.killpg(cluster.pid, signal.SIGTERM)
    try:
        cluster.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(timeout=15)


def all_delivered() -> bool:
    return not WebhookDelivery.objects.exclude(state="succeeded").exists()


def test_zero_loss_under_chaos_with_a_killed_worker(
    gateway, sandbox_app, tenant_a, tmp_path, settings
):
    from tests.sync.test_concurrency import database_url

    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver(Behaviour(fail_rate=0.2, seed=5)) as receiver:
        create_endpoint(tenant_a, receiver.url, ["trade.created", "refund.created"])
        # the schedule the migration makes; a transactional test's flush may have removed it
        Schedule.objects.get_or_create(
            name="webhooks-sweep", defaults={"func": SWEEP_TASK, "schedule_type": "I", "minutes": 1}
        )
        run_chaos(gateway, sandbox_app, tenant_a, tmp_path, database_url())
        delivered = {json.loads(r.body)["id"] for r in receiver.delivered()}

    events = WebhookEvent.objects.values_list("uuid", flat=True)
    assert len(events) > 100
    assert delivered == {f"evt_{uuid.hex}" for uuid in events}
    assert len(receiver.received) > len(delivered)  # failures did happen and were retried


def run_chaos(gateway, sandbox_app, tenant_a, tmp_path, database_url: str) -> None:
    gateway.faults(skew_seconds=-300)  # the platform's clock is five minutes behind ours
    shops = []
    for nick in ("north", "south", "east"):
        seller = gateway.control(
            "sellers",
            {"app_key": sandbox_app.app_key, "nick": nick, "history_trades": 80, "history_days": 2},
        )
        shop, _ = onboard_shop(
            tenant=tenant_a,
            app=sandbox_app,
            seller_nick=nick,
            seller_id=seller["user_id"],
            session_key=seller["session"],
        )
        shops.append(shop)
    cluster = start_cluster(database_url, tmp_path / "qcluster.log")
    try:
        wait_until(lambda: backfilled(shops), 90, "the backfills")
        for shop in shops:
            gateway.control(
                "market",
                {
                    "nick": shop.seller_nick,
                    "trades_per_minute": 240,
                    "changes_per_minute": 480,
                    "refunds_per_minute": 60,
                },
            )
        gateway.faults(
            lag_seconds=LAG - 1,
            drift_rate=0.3,
            isp_rate=0.05,
            http_500_rate=0.03,
            malformed_rate=0.03,
            hang_rate=0.01,
            hang_seconds=3,
            ban_rate=0.01,
            ban_seconds=1,
        )
        killed = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for shop in shops:
                async_task("trades.tasks.sync_shop_task", shop.pk)
            while not killed and time.monotonic() > deadline - 12:
                pid = worker_mid_run(cluster)
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    killed = True
                time.sleep(0.05)
            time.sleep(3)
        assert killed

        for shop in shops:
            gateway.control(
                "market",
                {
                    "nick": shop.seller_nick,
                    "trades_per_minute": 0,
                    "changes_per_minute": 0,
                    "refunds_per_minute": 0,
                },
            )
        gateway.faults(
            drift_rate=0, isp_rate=0, http_500_rate=0, malformed_rate=0, hang_rate=0, ban_rate=0
        )
        wait_until(lambda: not OrmQ.objects.exists(), 120, "the queue to drain")
        time.sleep(LAG + 1)
        Checkpoint.objects.update(next_run_at=None)
        from django.utils import timezone

        since = timezone.now()
        for shop in shops:
            async_task("trades.tasks.sync_shop_task", shop.pk)
        wait_until(lambda: synced_since(shops, since), 60, "the final round")
        # deliveries a killed worker held come back after their lease, through the sweep
        wait_until(all_delivered, 150, "every webhook delivery")
    finally:
        stop_cluster(cluster)

    for shop in Shop.objects.filter(pk__in=[s.pk for s in shops]):
        assert_matches_oracle(gateway, shop)
    injected = gateway.control("stats")["errors_injected"]
    assert sum(injected.values()) > 10, injected
