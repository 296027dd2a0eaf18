"""Which channels bring a shop's changes in, and how far each one trails.

Polling is live while the shop is active (its lag: platform now − the trades cursor); TMC
while the shop is permitted (its lag: the freshness of the last change it wrote); JDP while
the platform reports status 1 (its lag: how far the checkpoint trails the push, and the
freshness of the last change it wrote). The console's channel page and ``/metrics`` read
this one summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from shops.models import Checkpoint, Shop
from trades.jdp.models import JdpShop
from trades.tmc.models import TmcShop

POLLING, TMC, JDP = "polling", "tmc", "jdp"


@dataclass(frozen=True)
class Channel:
    name: str
    live: bool
    lag_seconds: float | None  # None: nothing to measure yet


def shop_channels(shops: list[Shop], now: datetime | None = None) -> dict[int, list[Channel]]:
    """The three channels of each of ``shops``, by shop pk (three queries in all)."""
    now = now or timezone.now()
    ids = [shop.pk for shop in shops]
    cursors = dict(
        Checkpoint.objects.filter(shop_id__in=ids, stream=Checkpoint.Stream.TRADES).values_list(
            "shop_id", "cursor"
        )
    )
    tmc = {row.shop_id: row for row in TmcShop.objects.filter(shop_id__in=ids)}
    jdp = {row.shop_id: row for row in JdpShop.objects.filter(shop_id__in=ids)}
    return {
        shop.pk: [
            _polling(shop, cursors.get(shop.pk), now),
            _tmc(shop, tmc.get(shop.pk)),
            _jdp(jdp.get(shop.pk)),
        ]
        for shop in shops
    }


def _polling(shop: Shop, cursor: datetime | None, now: datetime) -> Channel:
    lag = (now - cursor).total_seconds() if cursor is not None else None
    return Channel(POLLING, shop.status == Shop.Status.ACTIVE, lag)


def _tmc(shop: Shop, row: TmcShop | None) -> Channel:
    live = row is not None and row.permitted_at is not None
    return Channel(
        TMC, live and shop.status == Shop.Status.ACTIVE, row.freshness_seconds if row else None
    )


def _jdp(row: JdpShop | None) -> Channel:
    return Channel(JDP, row is not None and row.live, row.behind_seconds if row else None)
