"""Purchase suggestions per shop and SKU: what to order now so the shop does not run out.

For each SKU of the shop's items (docs/replenishment.md explains every number):

- on hand: ``ItemSku.quantity``; reserved: units of open presale trades whose deposit is
  paid (``PresaleReservation``, stage ``deposit_paid``); available = on hand − reserved;
- the forecast (``forecast.py``) over the cover: lead time + review period;
- safety stock = z(service level) × σ × √cover;
- suggested quantity = ⌈forecast over the cover + safety stock − available⌉, at least 0;
- days of cover = available ÷ the forecast's average day this week; runs out in N days:
  the first day the forecast's running total passes what is available (none within
  ``RUNOUT_HORIZON`` days: empty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import NormalDist

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ordersync.taobao.types import PLATFORM_TZ
from shops.models import Shop
from trades.items.models import ItemSku
from trades.items.streams import sync_items
from trades.presale.models import PresaleReservation
from trades.replenish.forecast import Forecast, forecast
from trades.replenish.models import ReplenishSettings, Suggestion
from trades.sales.models import SkuDailySales

HISTORY_DAYS = 84
RUNOUT_HORIZON = 120


def settings_of(shop: Shop) -> ReplenishSettings:
    settings, _ = ReplenishSettings.objects.get_or_create(
        shop=shop, defaults={"tenant_id": shop.tenant_id}
    )
    return settings


def recompute_suggestions(shop: Shop, today: date | None = None) -> int:
    """Replace the shop's suggestions with fresh ones; return how many SKUs they cover."""
    config = settings_of(shop)
    today = today or timezone.now().astimezone(PLATFORM_TZ).date()
    promo = {date.fromisoformat(d) for d in config.promotion_days}
    plan = Plan(shop, config, promo, today, timezone.now())
    history = _history(shop, today - timedelta(days=1))
    reserved = _reserved(shop)
    skus = ItemSku.objects.filter(shop=shop).select_related("item").order_by("sku_id")
    rows = [_suggest(plan, s, history.get(s.sku_id), reserved.get(s.sku_id, 0)) for s in skus]
    with transaction.atomic():
        Suggestion.objects.filter(shop=shop).delete()
        Suggestion.objects.bulk_create(rows)
    return len(rows)


def _history(shop: Shop, last: date) -> dict[str, list[int]]:
    """Units per day of each SKU over the last ``HISTORY_DAYS`` days up to ``last``."""
    first = last - timedelta(days=HISTORY_DAYS - 1)
    series: dict[str, list[int]] = {}
    rows = SkuDailySales.objects.filter(shop=shop, day__gte=first, day__lte=last)
    for sku_id, day, units in rows.values_list("sku_id", "day", "units"):
        series.setdefault(sku_id, [0] * HISTORY_DAYS)[(day - first).days] += units
    return series


def _reserved(shop: Shop) -> dict[str, int]:
    rows = (
        PresaleReservation.objects.filter(shop=shop, stage=PresaleReservation.Stage.DEPOSIT_PAID)
        .values("sku_id")
        .annotate(units=Sum("units"))
    )
    return {row["sku_id"]: int(row["units"] or 0) for row in rows}


@dataclass(frozen=True)
class Plan:
    """What every SKU of one recompute shares."""

    shop: Shop
    config: ReplenishSettings
    promo: set[date]
    today: date
    now: datetime


def _suggest(plan: Plan, sku: ItemSku, history: list[int] | None, reserved: int) -> Suggestion:
    config, yesterday = plan.config, plan.today - timedelta(days=1)
    cover = config.lead_time_days + config.review_days
    result = forecast(history or [0] * HISTORY_DAYS, yesterday, RUNOUT_HORIZON, plan.promo)
    available = sku.quantity - reserved
    demand = result.total(cover)
    safety = NormalDist().inv_cdf(float(config.service_level)) * result.sigma * math.sqrt(cover)
    week = result.total(7)
    return Suggestion(
        tenant_id=plan.shop.tenant_id, shop=plan.shop, sku_id=sku.sku_id, num_iid=sku.item.num_iid,
        outer_id=sku.outer_id, title=sku.item.title[:300], on_hand=sku.quantity,
        reserved=reserved, available=available, forecast_7d=_d(week), cover_days=cover,
        demand=_d(demand), band=_d(result.band(cover)), safety_stock=_d(safety),
        days_of_cover=_d(available / (week / 7)) if week > 0 else None,
        runs_out_in_days=runs_out_in(result, available),
        suggested_qty=max(0, math.ceil(_d(demand) + _d(safety) - available)), computed_at=plan.now,
    )  # fmt: skip


def runs_out_in(result: Forecast, available: int) -> int | None:
    """Days until the forecast's running total passes ``available`` (0: out already)."""
    if available <= 0:
        return 0
    total = 0.0
    for day, units in enumerate(result.daily):
        total += units
        if total >= available:
            return day
    return None


def _d(value: float) -> Decimal:
    return Decimal(str(round(value, 1)))


def refresh_replenishment(shop: Shop) -> int:
    """The daily pass of one shop: read its items and stock, then recompute its suggestions
    (with the stock as last stored when an item stream fails); return the SKUs covered."""
    sync_items(shop)
    return recompute_suggestions(shop)
