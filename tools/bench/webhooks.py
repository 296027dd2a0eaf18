"""Deliveries per second to a fast local receiver, through the real path: trades written
(outbox filled in their transactions), then claimed, signed, POSTed and recorded."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import requests
from django.conf import settings
from django.db import connection
from django.test import override_settings

from shops.models import Shop, Tenant, TopApp
from trades.sync.write import write_trades
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import WebhookDelivery
from trades.webhooks.runner import sweep_webhooks

ROOT = Path(__file__).resolve().parents[2]


class ReceiverProcess:
    """``tools.bench.receiver`` in a child process, so it does not share our GIL."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.bench.receiver", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        port = int(self.process.stdout.readline())
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/hook"

    def count(self) -> int:
        return requests.get(f"{self.base}/count", timeout=10).json()["count"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _world(url: str) -> tuple[Tenant, Shop]:
    tag = secrets.token_hex(4)
    tenant = Tenant.objects.create(name=f"bench webhooks {tag}", slug=f"bench-webhooks-{tag}")
    app = TopApp.objects.create(name="bench", app_key=f"bench-wh-{tag}", app_secret="x")
    shop = Shop.objects.create(
        tenant=tenant, app=app, seller_nick=f"bench-{tag}", seller_id=int(tag, 16)
    )
    create_endpoint(tenant, url, ["trade.created"], "benchmark")
    return tenant, shop


def _trades(count: int, start: int) -> list[dict]:
    return [
        {
            "tid": start + n,
            "status": "WAIT_SELLER_SEND_GOODS",
            "type": "fixed",
            "created": "2026-11-11 00:00:00",
            "modified": "2026-11-11 00:00:01",
            "orders": [{"oid": start + n, "status": "WAIT_SELLER_SEND_GOODS"}],
        }
        for n in range(count)
    ]


def _deliver_in_processes(processes: int) -> None:
    env = {**os.environ, "WEBHOOKS_ALLOW_PRIVATE": "true"}
    params = connection.get_connection_params()
    if not os.environ.get("DATABASE_URL"):
        host, port = params.get("host") or "127.0.0.1", params.get("port") or 5432
        env["DATABASE_URL"] = (
            f"postgresql://{params['user']}@/{params['dbname']}?host={host}&port={port}"
        )
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "deliver_webhooks", "--until-idle", "--seconds", "600"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.wait()


def run(events: int = 5000, processes: int = 1) -> dict:
    """Write ``events`` new trades for one endpoint, deliver them all; return the figures."""
    # no query log growing with the work; the receiver is on loopback
    with override_settings(DEBUG=False, WEBHOOKS_ALLOW_PRIVATE=True):
        return _run(events, processes)


def _run(events: int, processes: int) -> dict:
    receiver = ReceiverProcess()
    tenant = None
    try:
        tenant, shop = _world(receiver.url)
        started = time.perf_counter()
        # delivery is measured in the foreground, so the tasks each commit would queue (to
        # find nothing due) are not queued
        with mock.patch("trades.webhooks.outbox.queue_deliveries"):
            for offset in range(0, events, 100):
                write_trades(shop, _trades(min(100, events - offset), 10**12 + offset))
        written = time.perf_counter() - started
        started = time.perf_counter()
        if processes > 1:
            _deliver_in_processes(processes)
        else:
            sweep_webhooks(seconds=3600, requeue=False)
        delivering = time.perf_counter() - started
        delivered = WebhookDelivery.objects.filter(tenant=tenant, state="succeeded").count()
        received = receiver.count()
    finally:
        receiver.stop()
        if tenant is not None:
            app = shop.app
            tenant.delete()
            app.delete()
    return {
        "events": events,
        "processes": processes,
        "concurrency": settings.WEBHOOKS_CONCURRENCY,
        "batch": settings.WEBHOOKS_BATCH_SIZE,
        "write_seconds": round(written, 2),
        "deliver_seconds": round(delivering, 2),
        "delivered": delivered,
        "received": received,
        "deliveries_per_second": round(delivered / delivering, 1) if delivering else 0,
    }


def measure_webhooks(quick: bool) -> dict:
    """Trades written with their outbox events, then delivered to a fast loopback receiver."""
    return {"measured": True, **run(events=1000 if quick else 5000)}
