"""Webhooks of a chaos sync: the sync engine under every fault writes trades and refunds, a
receiver fails 30% of requests and hangs on 5%, the delivering worker is killed mid-delivery,
and still every event arrives at least once, signed with both secrets of a rotation."""

from __future__ import annotations

import json
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance
from tests.support.oracle import assert_matches_oracle
from tests.support.processes import deliverer
from tools.bench.receiver import Behaviour, Receiver
from trades.sync.backfill import backfill_shop
from trades.sync.incremental import sync_shop
from trades.webhooks.endpoints import create_endpoint, rotate_secret
from trades.webhooks.models import WebhookDelivery, WebhookEvent
from trades.webhooks.runner import sweep_webhooks
from trades.webhooks.signing import verify_signature

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
EVENTS = ["trade.created", "trade.updated", "trade.status_changed", "refund.created"]
FAST_LADDER = "0.2,0.5,1,1,1,1,1,1,1,1"


def chaos_sync(gateway, shop, seconds: float) -> None:
    gateway.control(
        "market",
        {
            "nick": shop.seller_nick,
            "trades_per_minute": 600,
            "changes_per_minute": 1200,
            "refunds_per_minute": 120,
        },
    )
    gateway.faults(
        lag_seconds=3,
        drift_rate=0.5,
        isp_rate=0.1,
        http_500_rate=0.05,
        malformed_rate=0.05,
        ban_rate=0.02,
        ban_seconds=1,
        peak_mode=True,
    )
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sync_shop(shop, "trades")
        sync_shop(shop, "refunds")
        Checkpoint.objects.filter(shop=shop).update(next_run_at=None)
    gateway.control(
        "market",
        {
            "nick": shop.seller_nick,
            "trades_per_minute": 0,
            "changes_per_minute": 0,
            "refunds_per_minute": 0,
        },
    )
    gateway.faults(isp_rate=0, http_500_rate=0, malformed_rate=0, ban_rate=0, drift_rate=0)
    # every change is visible after the sandbox's 3 s lag; windows trail the platform's clock
    # (incrementv.get: 2 s) and ordersync's estimate of that clock may be a second behind
    advance(gateway, 8)
    assert sync_shop(shop, "trades").outcome == SyncRun.Outcome.SUCCEEDED
    assert sync_shop(shop, "refunds").outcome == SyncRun.Outcome.SUCCEEDED


def test_every_event_of_a_chaos_sync_arrives_signed(make_shop, gateway, settings):
    settings.SYNC_LAG_SECONDS = 4
    settings.TOP_BACKOFF_CAP = 0.2
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOKS_TIMEOUT = 1.0
    settings.WEBHOOKS_RETRY_SECONDS = [float(s) for s in FAST_LADDER.split(",")]
    shop = make_shop("hooked", history_trades=60, history_days=2)
    # the platform's clock is five minutes ahead of ours from the start (a clock does not jump;
    # ordersync measures the offset with time.get and shares it for a few minutes)
    gateway.faults(skew_seconds=300)
    behaviour = Behaviour(fail_rate=0.3, hang_rate=0.05, hang_seconds=3, seed=11)
    with Receiver(behaviour) as receiver:
        first = create_endpoint(shop.tenant, receiver.url, EVENTS)
        # rotated before any event: every delivery is signed with both during the overlap
        second = rotate_secret(first.endpoint, overlap=timedelta(hours=1))
        assert backfill_shop(shop, 3).outcome == SyncRun.Outcome.SUCCEEDED

        worker = deliverer(
            120,
            WEBHOOKS_TIMEOUT="1",
            WEBHOOKS_BATCH_SIZE="20",
            WEBHOOKS_RETRY_SECONDS=FAST_LADDER,
        )
        try:
            chaos_sync(gateway, shop, seconds=8)
            deadline = time.monotonic() + 60
            while len(receiver.received) < 40 and time.monotonic() < deadline:
                time.sleep(0.05)
            # mid-batch: claimed, partly sent, nothing recorded
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            if worker.poll() is None:
                worker.kill()

        # a surviving worker's sweep: what the dead one held falls due after its lease
        deadline = time.monotonic() + 180
        while WebhookDelivery.objects.filter(state="pending").exists():
            assert time.monotonic() < deadline, "deliveries still pending"
            sweep_webhooks(seconds=5, requeue=False)
            time.sleep(0.2)
        delivered = receiver.delivered()

    assert_matches_oracle(gateway, shop)
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"succeeded"}
    events = set(WebhookEvent.objects.values_list("uuid", flat=True))
    got = {json.loads(r.body)["id"] for r in delivered}
    assert got == {f"evt_{uuid.hex}" for uuid in events}  # every event at least once
    now = timezone.now().timestamp()
    for r in delivered:
        verify_signature([first.secret], r.headers, r.body, now=now)
        verify_signature([second.secret], r.headers, r.body, now=now)

    # every trade the platform has was announced by a trade.created event
    created = {
        json.loads(r.body)["data"]["tid"]
        for r in delivered
        if json.loads(r.body)["type"] == "trade.created"
    }
    assert set(gateway.oracle_trades(shop.seller_nick)) <= {int(tid) for tid in created}
    injected = gateway.control("stats")["errors_injected"]
    assert sum(injected.values()) > 10, injected
    assert len(receiver.received) > len(delivered)  # the receiver's failures did bite
