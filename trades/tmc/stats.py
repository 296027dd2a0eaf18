"""What the TMC consumers did, summed in the database over every consumer process: per-pull
counts (``TmcStat``, read by ``/metrics`` and the console) and each shop's freshness."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.utils import timezone

from shops.models import Shop
from trades.tmc.models import TmcShop, TmcStat


@dataclass
class PullResult:
    """What one pull (or one batch of held messages) did: counted into ``TmcStat``."""

    received: int = 0
    confirmed: list[int] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    fetches: Counter = field(default_factory=Counter)
    freshness: list[float] = field(default_factory=list)
    refetches: list[int] = field(default_factory=list)
    # message id → seconds until its record's second is over: fetched again then
    later: dict[int, float] = field(default_factory=dict)
    confirm_lags: list[float] = field(default_factory=list)


def note_freshness(shop: Shop, modified: datetime, seconds: float) -> None:
    """The shop's newest change TMC wrote, and how long after its ``modified`` it landed."""
    TmcShop.objects.update_or_create(
        shop=shop,
        defaults={
            "last_message_at": timezone.now(),
            "last_change_modified": modified,
            "freshness_seconds": round(seconds, 3),
        },
    )


def record_stats(app_key: str, result: PullResult) -> None:
    """Add one pull's counts to the shared ``TmcStat`` rows (one statement)."""
    values: dict[str, float] = {"messages:received": result.received}
    for outcome, n in result.outcomes.items():
        values[f"messages:{outcome}"] = n
    for kind, n in result.fetches.items():
        values[f"fetches:{kind}"] = n
    if result.refetches:
        values["fetches:refetch"] = len(result.refetches)
    for name, samples in (
        ("confirm_lag_seconds", result.confirm_lags),
        ("freshness_seconds", result.freshness),
    ):
        if samples:
            values[f"{name}:sum"] = sum(samples)
            values[f"{name}:count"] = len(samples)
    names = sorted(values)
    table = TmcStat._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (app_key, name, value)
            SELECT %s, n, v FROM unnest(%s::text[], %s::float8[]) AS u(n, v)
            ON CONFLICT (app_key, name) DO UPDATE SET value = {table}.value + EXCLUDED.value
            """,
            [app_key, names, [float(values[n]) for n in names]],
        )


def counters(app_key: str) -> dict[str, float]:
    return dict(TmcStat.objects.filter(app_key=app_key).values_list("name", "value"))
