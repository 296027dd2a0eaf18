"""Delivering processes: two sweeping at once never send a delivery twice (SKIP LOCKED), and
one killed mid-delivery loses nothing: its claims fall due again when their lease runs out.
The receiver fails 30% of requests and hangs on 5%; every event arrives, correctly signed."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.support.processes import deliverer
from tests.support.records import wire_trade
from tests.support.waiting import wait_until
from tools.bench.receiver import Behaviour, Receiver
from trades.sync.write import write_trades
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import WebhookDelivery, WebhookEvent
from trades.webhooks.runner import sweep_webhooks
from trades.webhooks.signing import verify_signature

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def write_many(shop, count: int) -> None:
    for start in range(0, count, 100):
        write_trades(shop, [wire_trade(tid=n) for n in range(start + 1, start + 101)])


def blocked_on(table: str) -> int:
    """How many statements wait for a lock on ``table``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted", [table]
        )
        return cursor.fetchone()[0]


def test_two_sweepers_never_deliver_one_delivery_twice(shop_a, tenant_a):
    table = WebhookDelivery._meta.db_table
    with Receiver(Behaviour(status=204)) as receiver:
        create_endpoint(tenant_a, receiver.url, ["trade.created"])
        write_many(shop_a, 400)
        # The two start claiming at the same moment: each waits at its first claim behind
        # this lock until the other one waits there too (one process starting seconds after
        # the other on a loaded machine found every delivery sent).
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            workers = [deliverer(60, "--until-idle", WEBHOOKS_BATCH_SIZE="20") for _ in range(2)]
            wait_until(lambda: blocked_on(table) == 2, 60, "both sweepers at their first claim")
        outputs = [w.communicate(timeout=120) for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        ids = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(ids) == 400 and set(ids.values()) == {1}  # each exactly once
    attempts = [int(out.split(" attempts")[0]) for out, _ in outputs]
    assert sum(attempts) == 400 and min(attempts) > 0, outputs  # both took a share
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"succeeded"}


def test_a_worker_killed_mid_delivery_loses_nothing(shop_a, tenant_a, settings):
    settings.WEBHOOKS_RETRY_SECONDS = [0.2, 0.5, 1, 1, 1, 1, 1, 1, 1, 1]
    behaviour = Behaviour(fail_rate=0.3, hang_rate=0.05, hang_seconds=3, seed=5)
    with Receiver(behaviour) as receiver:
        issued = create_endpoint(tenant_a, receiver.url, ["trade.created", "trade.updated"])
        write_many(shop_a, 300)
        worker = deliverer(
            60,
            WEBHOOKS_TIMEOUT="1",
            WEBHOOKS_BATCH_SIZE="20",
            WEBHOOKS_RETRY_SECONDS="0.2,0.5,1,1,1,1,1,1,1,1",
        )
        deadline = time.monotonic() + 60
        while len(receiver.received) < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)  # mid-batch: claimed, partly sent, nothing recorded
        worker.wait(timeout=10)
        assert WebhookDelivery.objects.filter(state="pending").exists()

        # the sweep of a surviving worker: what the dead one held falls due after its lease
        settings.WEBHOOKS_TIMEOUT = 1.0
        deadline = time.monotonic() + 90
        while WebhookDelivery.objects.filter(state="pending").exists():
            assert time.monotonic() < deadline, "deliveries still pending"
            sweep_webhooks(seconds=5, requeue=False)
            time.sleep(0.2)
        delivered = receiver.delivered()

    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"succeeded"}
    events = set(WebhookEvent.objects.values_list("uuid", flat=True))
    assert len(events) == 300
    got = {json.loads(r.body)["id"] for r in delivered}
    assert got == {f"evt_{uuid.hex}" for uuid in events}  # every event at least once
    for r in delivered:
        verify_signature([issued.secret], r.headers, r.body, now=timezone.now().timestamp())
