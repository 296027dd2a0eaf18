"""A consumer killed with SIGKILL loses nothing: ``manage.py tmc_consume`` in a real process,
stopped dead while a fetch or a confirm is on the wire."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import manage
from tests.support.tmc import platform
from tests.support.waiting import wait_until
from trades.models import Trade
from trades.tmc.models import TmcShop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def start_consumer(log: Path) -> subprocess.Popen:
    env = dict(
        TMC_COLLAPSE_SECONDS="0",
        TMC_IDLE_SECONDS="0.05",
        TOP_READ_TIMEOUT="30",
        LOG_LEVEL="INFO",
    )
    return manage(
        "tmc_consume",
        "--app",
        "app-1",
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def queue(gateway) -> dict:
    stats = gateway.control("tmc")
    return {**stats, **stats["queues"].get("app-1/default", {"pending": 0, "ready": 0})}


def matches_oracle(gateway, shop) -> bool:
    oracle = gateway.oracle_trades(shop.seller_nick)
    ours = {t.tid: (t.status, platform(t.modified)) for t in Trade.objects.filter(shop=shop)}
    return ours == {tid: (t["status"], t["modified"]) for tid, t in oracle.items()}


def test_a_killed_consumer_loses_nothing(make_shop, gateway, tmp_path):
    shop = make_shop("crash")
    log = tmp_path / "tmc.log"
    gateway.faults(tmc_visibility_seconds=2)
    consumer = start_consumer(log)
    try:
        wait_until(
            lambda: TmcShop.objects.filter(permitted_at__isnull=False).exists(), 30, "permit"
        )

        # 1. Killed after the write committed, while the confirm hangs: the messages were
        #    not confirmed, so they come back; writing them again is harmless.
        gateway.faults(methods=["taobao.tmc.messages.confirm"], hang_rate=1.0, hang_seconds=60)
        gateway.control("market", {"nick": "crash", "burst": 5})
        wait_until(lambda: Trade.objects.filter(shop=shop).count() == 5, 20, "the write")
        wait_until(lambda: gateway.control("stats")["errors_injected"].get("hang"), 10, "confirm")
        kill(consumer)
        assert queue(gateway)["pending"] == 5 and queue(gateway).get("confirmed", 0) == 0

        # 2. Killed while fetching: nothing written, nothing confirmed.
        gateway.faults(methods=["taobao.trade.fullinfo.get"], hang_rate=1.0)
        consumer = start_consumer(log)
        gateway.control("market", {"nick": "crash", "burst": 3})
        wait_until(lambda: gateway.control("stats")["errors_injected"]["hang"] >= 2, 30, "fetch")
        kill(consumer)
        assert Trade.objects.filter(shop=shop).count() == 5

        # 3. A new consumer gets every unconfirmed message again and finishes the work.
        gateway.faults(hang_rate=0.0, methods=[])
        consumer = start_consumer(log)
        wait_until(lambda: queue(gateway)["pending"] == 0, 30, "the queue to drain")
        assert queue(gateway)["redelivered"] >= 8
        assert queue(gateway)["confirmed"] == 8
        assert matches_oracle(gateway, shop)
        consumer.send_signal(signal.SIGTERM)  # a graceful stop ends the process
        assert consumer.wait(20) == 0
    finally:
        if consumer.poll() is None:
            kill(consumer)
    assert "TMC consumer stopped" in log.read_text()
