"""``manage.py jdp_consume`` in a real process, killed with SIGKILL again and again while
the push goes on: a batch written but not checkpointed is read again, nothing is lost and
the feed holds each change the platform made once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from shops.models import Checkpoint
from tests.support.oracle import assert_matches_oracle, feed_repeats
from tests.support.processes import manage

from .conftest import consume, wait_pushed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def start_consumer(shop, log: Path) -> subprocess.Popen:
    env = dict(
        JDP_BATCH_SIZE="20",
        JDP_IDLE_SECONDS="0.05",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return manage(
        "jdp_consume",
        "--shop",
        str(shop.pk),
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def started(log: Path, count: int, timeout: float = 60) -> None:
    """Until the ``count``-th consumer said it runs."""
    deadline = time.monotonic() + timeout
    while log.read_text().count("JDP consumer running") < count:
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.05)


def test_a_killed_consumer_loses_nothing(gateway, enrolled_shop, tmp_path):
    gateway.faults(jdp_push_per_second=60, jdp_delay_seconds=1, jdp_reorder_rate=0.2)
    shop = enrolled_shop("killed", history_trades=300)
    rates = {"trades_per_minute": 120, "changes_per_minute": 300, "refunds_per_minute": 20}
    gateway.control("market", {"nick": "killed", **rates})
    log = tmp_path / "jdp.log"
    kills = 0
    for pause in (1.5, 0.8, 1.1, 0.6, 1.3, 0.9):
        consumer = start_consumer(shop, log)
        started(log, kills + 1)
        time.sleep(pause)  # then killed wherever it is: reading, writing, moving the cursor
        os.kill(consumer.pid, signal.SIGKILL)
        consumer.wait(10)
        kills += 1
    gateway.control("market", {"nick": "killed", **dict.fromkeys(rates, 0)})
    cursor = Checkpoint.objects.get(shop=shop, stream="jdp_trades").cursor
    assert cursor is not None, log.read_text()[-2000:]  # the killed ones did make progress
    wait_pushed(gateway)
    consume(shop)
    assert_matches_oracle(gateway, shop)
    # each change once in the feed: no version the platform made recorded twice (two
    # events of one second are right when the platform changed the trade twice in it)
    assert not feed_repeats(gateway, shop), feed_repeats(gateway, shop)
    assert kills == 6
