"""The API budget parcel tracking spends: ``taobao.logistics.trace.search`` calls per consigned
trade per day, with the sandbox's realistic mix of parcels (stalled, lost, never picked up,
offline-consigned, split).

A sandbox runs in this process on a manual clock. ``--trades`` trades are bought and shipped,
synced into a tenant of the run's own, and the tracker runs every ``--tick-minutes`` of platform
time (its schedule's period) over ``--days``, as the scheduler would run it. The calls are
counted by the sandbox. Nothing else changes the trades, so a parcel is tracked until it is
signed (or for the whole run when it is lost): the figure is an upper bound for trades that
finish sooner.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from ordersync.sandbox.control import handle
from ordersync.sandbox.server import start_sandbox
from ordersync.sandbox.world import World
from ordersync.taobao.store import client_for
from ordersync.taobao.types import PLATFORM_TZ
from shops.actions import ensure_checkpoints
from shops.models import Checkpoint, Shop, Tenant, TopApp
from shops.top import app_credentials, client_for_shop
from trades.logistics.models import Parcel
from trades.logistics.tracking import Tally, track_shop
from trades.sync.incremental import sync_shop

METHOD = "taobao.logistics.trace.search"


class WorldClock:
    """The sandbox's clock read in process: no offset to measure while days pass."""

    def __init__(self, world: World) -> None:
        self.world = world

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.world.now(), PLATFORM_TZ)


class Part(BaseCommand):
    help = "Benchmark parcel tracking: trace calls per consigned trade per day."

    def add_arguments(self, parser):
        parser.add_argument("--trades", type=int, default=500, help="trades bought and shipped")
        parser.add_argument("--days", type=float, default=10.0, help="platform days tracked")
        parser.add_argument("--tick-minutes", type=float, default=10.0, help="tracker period")
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, **opts):
        settings.DEBUG = False
        sandbox = start_sandbox(port=0, seed=opts["seed"])
        tag = f"bench-logistics-{opts['seed']}-{id(sandbox)}"
        tenant = Tenant.objects.create(name=tag, slug=tag)
        app = TopApp.objects.create(
            name=tag, app_key=tag, app_secret="x", gateway_url=sandbox.gateway_url
        )
        try:
            shop = _shop(sandbox.state, tenant, app, opts["trades"])
            self.run(sandbox.state, shop, opts["days"], opts["tick_minutes"])
        finally:
            tenant.delete()
            app.delete()
            sandbox.stop()

    def run(self, world: World, shop: Shop, days: float, tick_minutes: float) -> None:
        # the app's whole budget, as the schedule's client has it
        app = client_for(
            app_credentials(shop.app),
            calls_per_minute=shop.app.calls_per_minute,
            clock=WorldClock(world),
        )
        client = client_for_shop(shop, app)
        sync_shop(shop, "trades", client=client)
        totals = Tally()
        for _ in range(int(days * 24 * 60 / tick_minutes)):
            _add(totals, track_shop(shop, client))
            world.clock.advance(tick_minutes * 60)
        calls = world.calls[METHOD][shop.app.app_key]
        shipped = Parcel.objects.filter(shop=shop).values("trade").distinct().count()
        self._report(shop, shipped or 1, days, calls, totals)
        transit = _days_in_transit(shop, client.clock.now())
        self.stdout.write(
            f"{calls / max(transit, 1e-9):.2f} trace calls per consigned trade per day in transit "
            f"({transit:.0f} trade-days from consignment to the last parcel's signing)"
        )

    def _report(self, shop: Shop, shipped: int, days: float, calls: int, totals: Tally) -> None:
        parcels = Parcel.objects.filter(shop=shop)
        done = Counter(parcels.values_list("done", flat=True))
        self.stdout.write(
            f"{shipped} consigned trades, {parcels.count()} parcels over {days:g} platform days: "
            f"{calls} trace calls"
        )
        self.stdout.write(f"{calls / shipped / days:.2f} trace calls per consigned trade per day")
        self.stdout.write(f"{calls / max(1, parcels.count()):.1f} trace calls per parcel")
        self.stdout.write(
            f"done: {done.get('signed', 0)} signed, {done.get('offline', 0)} offline, "
            f"{done.get('', 0)} still tracked; {totals.stalled} stalls raised, "
            f"{totals.resumed} cleared; {totals.failed} reads failed"
        )


def _days_in_transit(shop: Shop, end: datetime) -> float:
    """Per trade, from its first consignment to its last parcel's signing (or ``end`` while
    one is not signed), in days; summed over the trades."""
    spans: dict[int, tuple[datetime, datetime]] = {}
    for parcel in Parcel.objects.filter(shop=shop):
        last = parcel.last_event_at if parcel.done and parcel.last_event_at else end
        first, latest = spans.get(parcel.trade_id, (parcel.consigned_at, last))
        spans[parcel.trade_id] = (min(first, parcel.consigned_at), max(latest, last))
    return sum((last - first).total_seconds() for first, last in spans.values()) / 86400


def _add(totals: Tally, tally: Tally) -> None:
    for name in ("found", "ended", "read", "failed", "stalled", "resumed"):
        setattr(totals, name, getattr(totals, name) + getattr(tally, name))


def _control(world: World, path: str, data: dict) -> dict:
    status, answer = handle(world, "POST", f"/_sandbox/{path}", "", json.dumps(data).encode())
    if status != 200:
        raise RuntimeError(f"sandbox {path}: {answer}")
    return answer


def _shop(world: World, tenant: Tenant, app: TopApp, trades: int) -> Shop:
    """A seller with ``trades`` bought and shipped now, and its shop reading them."""
    _control(world, "apps", {"app_key": app.app_key, "app_secret": "x"})
    nick = tenant.slug
    seller = _control(world, "sellers", {"app_key": app.app_key, "nick": nick})
    _control(world, "clock", {"mode": "manual"})
    _control(world, "market", {"nick": nick, "burst": trades, "ship": trades})
    world.clock.advance(120)
    shop = Shop.objects.create(
        tenant=tenant,
        app=app,
        seller_nick=nick,
        seller_id=seller["user_id"],
        session_key=seller["session"],
    )
    ensure_checkpoints(shop)
    start = datetime.fromtimestamp(world.now(), PLATFORM_TZ) - timedelta(hours=1)
    Checkpoint.objects.filter(shop=shop).update(cursor=start)
    return shop
