"""Presale reservations as the open presale trades grow: what a read of the view costs.

Writes deposit-paid presale trades (one sub-order each, over ``--skus`` SKUs) through the
write path into a tenant of its own, and at each size reads what the API and the console
read: the first page of reservations (50 rows) and the totals. Figures: the median of five
reads, in milliseconds, and the write path's trades per second with stage detection on.
"""

from __future__ import annotations

import statistics
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Sum

from shops.models import Shop, Tenant, TopApp
from trades.presale.models import PresaleReservation
from trades.sync.write import write_trades

PAGE = 500


class Part(BaseCommand):
    help = "Benchmark presale reservations: the view's read cost as open presale trades grow."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default="1000,10000,50000", help="open trades, ascending")
        parser.add_argument("--skus", type=int, default=200, help="distinct SKUs")

    def handle(self, *args, **opts):
        settings.DEBUG = False
        tag = f"bench-presale-{int(time.time() * 1000)}"
        tenant = Tenant.objects.create(name=tag, slug=tag)
        app = TopApp.objects.create(name=tag, app_key=tag, app_secret="x", calls_per_minute=1)
        shop = Shop.objects.create(
            tenant=tenant, app=app, seller_nick=tag, seller_id=1, session_key="x"
        )
        try:
            self.run(shop, [int(n) for n in opts["sizes"].split(",")], opts["skus"])
        finally:
            tenant.delete()
            app.delete()

    def run(self, shop: Shop, sizes: list[int], skus: int) -> None:
        written = 0
        for size in sizes:
            started, before = time.monotonic(), written
            while written < size:
                count = min(PAGE, size - written)
                write_trades(shop, [_trade(written + n, skus) for n in range(count)], current=True)
                written += count
            rate = (written - before) / (time.monotonic() - started)
            page, totals = _median(lambda: _page(shop)), _median(lambda: _totals(shop))
            self.stdout.write(
                f"{size:>8,} open presale trades: first page {page:7.1f} ms, totals "
                f"{totals:7.1f} ms; written at {rate:,.0f} trades/s"
            )


def _trade(n: int, skus: int) -> dict:
    return {
        "tid": 1_000_000 + n,
        "status": "WAIT_BUYER_PAY",
        "type": "step",
        "step_trade_status": "FRONT_PAID_FINAL_NOPAID",
        "created": "2026-11-01 20:00:00",
        "modified": "2026-11-01 20:05:00",
        "orders": [
            {"oid": 1_000_000 + n, "status": "WAIT_BUYER_PAY", "sku_id": str(n % skus), "num": 1}
        ],
    }


def _page(shop: Shop) -> None:
    list(PresaleReservation.objects.for_tenant(shop.tenant).order_by("id")[:51])


def _totals(shop: Shop) -> None:
    PresaleReservation.objects.for_tenant(shop.tenant).aggregate(units=Sum("units"))


def _median(read) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
