"""A forecast you can explain: daily units per SKU for the days ahead, from recent sales.

For one SKU, from its daily units up to yesterday (``history``, oldest first, from its
first sale on) and which of those days and of the days ahead are promotion days:

1. **Weekday shape**: over the last ``SHAPE_DAYS`` ordinary days (promotion days left out),
   each weekday's mean over the overall mean, shrunk toward 1 by ``SHRINK`` days' worth of
   evidence (a slow SKU gets a flat week).
2. **Level**: the mean of the last ``LEVEL_DAYS`` ordinary days, each divided by its
   weekday's index: the units of an average day, about ``LEVEL_DAYS / 2`` days ago.
3. **Trend**: the growth per day between the two halves of the last ``2 × LEVEL_DAYS``
   ordinary days (deseasonalised), within ±``MAX_GROWTH``, carried from the level's centre.
4. **Promotion lift**: the promotion days' units over what an ordinary day would have been
   (shrunk toward 1 the same way); applied to promotion days ahead.
5. **Error band**: the spread of the ordinary days around the fitted values (their standard
   deviation), ±``Z`` of it around each day (80%); over several days it grows with √days.

Forecast for day ``h`` ahead (1 = today) = level × growth^(centre + h) × weekday index ×
(lift on a promotion day).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

SHAPE_DAYS = 56
LEVEL_DAYS = 14
SHRINK = 3.0
MAX_GROWTH = 0.03
Z = 1.2816  # two-sided 80%


@dataclass(frozen=True)
class Forecast:
    daily: list[float]  # units per day ahead, today first
    low: list[float]
    high: list[float]
    level: float
    growth: float  # per day
    weekday: list[float]  # Monday first
    lift: float
    sigma: float  # one day's standard error

    def total(self, days: int) -> float:
        return sum(self.daily[:days])

    def band(self, days: int) -> float:
        """The ± of the total over ``days`` days (80%)."""
        return Z * self.sigma * math.sqrt(max(0, days))


def forecast(
    history: list[int], last_day: date, horizon: int, promo: set[date] | None = None
) -> Forecast:
    """Forecast ``horizon`` days after ``last_day`` (the day of ``history[-1]``)."""
    promo = promo or set()
    history = _since_first_sale(history)
    days = [last_day - timedelta(days=len(history) - 1 - i) for i in range(len(history))]
    ordinary = [(d, u) for d, u in zip(days, history, strict=True) if d not in promo]
    index = _weekday_index(ordinary[-SHAPE_DAYS:])
    flat = [(d, u / index[d.weekday()]) for d, u in ordinary]
    level = _mean([u for _, u in flat[-LEVEL_DAYS:]])
    growth = _growth(flat[-2 * LEVEL_DAYS :])
    centre = (LEVEL_DAYS - 1) / 2 if flat else 0.0
    fitted = {d: level * growth ** -(last_day - d).days * index[d.weekday()] for d in days}
    lift = _lift([(fitted[d], u) for d, u in zip(days, history, strict=True) if d in promo])
    sigma = _sigma([(fitted[d] * growth**-centre, u) for d, u in ordinary[-SHAPE_DAYS:]])
    ahead = [last_day + timedelta(days=h) for h in range(1, horizon + 1)]
    daily = [
        level * growth ** (centre + h) * index[d.weekday()] * (lift if d in promo else 1.0)
        for h, d in enumerate(ahead, start=1)
    ]
    low = [max(0.0, f - Z * sigma) for f in daily]
    high = [f + Z * sigma for f in daily]
    return Forecast(daily, low, high, level, growth, index, lift, sigma)


def _since_first_sale(history: list[int]) -> list[int]:
    """The days from the SKU's first sale on: before it, it was not for sale (no evidence)."""
    first = next((i for i, units in enumerate(history) if units > 0), len(history))
    return history[first:]


def baseline(history: list[int], horizon: int) -> list[float]:
    """The plain forecast the backtest compares with: the last 7 days' average, every day."""
    recent = history[-7:]
    return [_mean(recent)] * horizon


def _weekday_index(days: list[tuple[date, int]]) -> list[float]:
    overall = _mean([u for _, u in days])
    if overall <= 0:
        return [1.0] * 7
    index = []
    for weekday in range(7):
        units = [u for d, u in days if d.weekday() == weekday]
        raw = _mean(units) / overall if units else 1.0
        index.append((raw * len(units) + SHRINK) / (len(units) + SHRINK))
    mean = sum(index) / 7
    return [i / mean for i in index]


def _growth(flat: list[tuple[date, float]]) -> float:
    half = len(flat) // 2
    if half < 7:
        return 1.0
    old, new = _mean([u for _, u in flat[:half]]), _mean([u for _, u in flat[half:]])
    if old <= 0 or new <= 0:
        return 1.0
    rate = (new / old) ** (1 / half)
    return min(1 + MAX_GROWTH, max(1 - MAX_GROWTH, rate))


def _lift(pairs: list[tuple[float, int]]) -> float:
    expected = sum(f for f, _ in pairs)
    if expected <= 0:
        return 1.0
    raw = sum(u for _, u in pairs) / expected
    return (raw * len(pairs) + SHRINK * 1.0) / (len(pairs) + SHRINK) if raw > 1 else 1.0


def _sigma(pairs: list[tuple[float, int]]) -> float:
    if len(pairs) < 2:
        return 0.0
    return math.sqrt(sum((u - f) ** 2 for f, u in pairs) / (len(pairs) - 1))


def _mean(values: list[float] | list[int]) -> float:
    return sum(values) / len(values) if values else 0.0
