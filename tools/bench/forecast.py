"""The forecast's backtest on the sandbox's history: WAPE of ours and of the baseline.

A sandbox world (seeded) makes one seller with ``days`` of history drawn with its demand
shape; its paid units per SKU and day (the oracle's) are the history. From each of the last
``origins`` days, both forecasts see only the days before it and forecast the next
``horizon`` days; WAPE = Σ|actual − forecast| / Σ actual over every SKU, origin and day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ordersync.sandbox.stock import GMT8, sales_truth
from ordersync.sandbox.world import World
from trades.replenish.forecast import baseline, forecast


@dataclass
class Backtest:
    skus: int
    points: int
    units: int
    ours: float
    base: float


def sandbox_history(seed: int, trades: int, days: int) -> tuple[dict, date, set[date]]:
    """Daily units per SKU (oldest first, up to yesterday), yesterday, the promotion days."""
    world = World(seed)
    seller, _ = world.add_seller("backtest", trades, days)
    today = datetime.fromtimestamp(world.now(), GMT8).date()
    last, first = today - timedelta(days=1), today - timedelta(days=days - 1)
    span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    series = {
        sku: [per_day.get(d.isoformat(), 0) for d in span]
        for sku, per_day in sales_truth(seller.by_created).items()
    }
    demand = seller.stock.demand
    promo = {d for d in span + [last + timedelta(days=k) for k in range(1, 30)]
             if demand.is_promo(datetime(d.year, d.month, d.day, tzinfo=GMT8))}  # fmt: skip
    return series, last, promo


def backtest(series: dict, last: date, promo: set[date], origins: int, horizon: int) -> Backtest:
    errors_ours = errors_base = units = points = 0.0
    for history in series.values():
        for back in range(origins, 0, -1):
            cut = len(history) - back - horizon + 1
            if cut < 28:
                continue
            seen, actual = history[:cut], history[cut : cut + horizon]
            day = last - timedelta(days=len(history) - cut)
            ours = forecast(seen, day, len(actual), promo).daily
            base = baseline(seen, len(actual))
            errors_ours += sum(abs(a - f) for a, f in zip(actual, ours, strict=True))
            errors_base += sum(abs(a - f) for a, f in zip(actual, base, strict=True))
            units += sum(actual)
            points += len(actual)
    return Backtest(len(series), int(points), int(units), errors_ours / units, errors_base / units)
