"""API calls per changed trade in steady state: a market of new and changed trades on fresh
shops, synced every ``interval`` seconds after the lag; the calls beside the minimum, one call
per page of 100 changed rows. Shared by ``bench sync`` and the report's ``steady`` part, which
measures the default ``SYNC_VISIBLE_OVERLAP_SECONDS`` and a 5 s one side by side."""

from __future__ import annotations

import contextlib
import math
import time

from django.conf import settings
from django.test import override_settings

from shops.models import Shop, SyncRun
from tools.bench.machine import load_average
from tools.bench.sandbox import SandboxProcess
from tools.bench.world import BenchWorld
from trades.sync.incremental import sync_shop

DEFAULT = None  # the visibility overlap as configured


def measure_overlaps(
    per_minute: int, interval: float, count: int, lag: int, overlaps: tuple, log=print
) -> list[dict]:
    """The steady figures of one fresh shop per visibility overlap, on one sandbox."""
    with override_settings(DEBUG=False, SYNC_LAG_SECONDS=lag), SandboxProcess(seed=17) as sandbox:
        world = BenchWorld(sandbox)
        try:
            return measure(world, per_minute, interval, count, overlaps, log)
        finally:
            world.remove()


def measure(
    world: BenchWorld,
    per_minute: int,
    interval: float,
    count: int,
    overlaps: tuple = (DEFAULT,),
    log=print,
) -> list[dict]:
    """``count`` syncs every ``interval`` s of one shop per overlap in ``overlaps``, all on the
    same market rate and clock; the figures of each, in the order of ``overlaps``."""
    shops = [world.shop(f"steady-{i}") for i in range(len(overlaps))]
    for shop, overlap in zip(shops, overlaps, strict=True):
        with _overlap(overlap):
            sync_shop(shop, "trades")
    _market(world, shops, per_minute // 3, per_minute - per_minute // 3)
    log(
        f"steady: {count} syncs every {interval:.0f}s at {per_minute}/min, "
        f"after the {settings.SYNC_LAG_SECONDS}s lag …"
    )
    time.sleep(settings.SYNC_LAG_SECONDS + interval)
    load_before = load_average()
    runs: list[list[SyncRun]] = [[] for _ in shops]
    for _ in range(count):
        for shop, overlap, done in zip(shops, overlaps, runs, strict=True):
            with _overlap(overlap):
                done.append(sync_shop(shop, "trades"))
        time.sleep(interval)
    load = [load_before, load_average()]
    _market(world, shops, 0, 0)
    figures = []
    for overlap, done in zip(overlaps, runs, strict=True):
        with _overlap(overlap):
            figures.append(_figures(done, load))
    return figures


@contextlib.contextmanager
def _overlap(seconds: int | None):
    if seconds is DEFAULT:
        yield
    else:
        with override_settings(SYNC_VISIBLE_OVERLAP_SECONDS=seconds):
            yield


def _market(world: BenchWorld, shops: list[Shop], new: int, changed: int) -> None:
    for shop in shops:
        world.sandbox.control(
            "market",
            {"nick": shop.seller_nick, "trades_per_minute": new, "changes_per_minute": changed},
        )


def _figures(runs: list[SyncRun], load: list) -> dict:
    calls = sum(run.api_calls for run in runs)
    changed = sum(run.trades_written for run in runs)
    minimum = sum(math.ceil(run.trades_written / 100) for run in runs) or 1
    return {
        "runs": len(runs),
        "api_calls": calls,
        "changed_trades": changed,
        "rows_read": sum(run.trades_seen for run in runs),
        "api_calls_per_changed_trade": round(calls / max(changed, 1), 4),
        "minimum_calls": minimum,
        "ratio_to_minimum": round(calls / minimum, 2),
        "overlap_seconds": settings.SYNC_OVERLAP_SECONDS,
        "visible_overlap_seconds": settings.SYNC_VISIBLE_OVERLAP_SECONDS,
        # per run: API calls, rows listed, trades written
        "by_run": [[r.api_calls, r.trades_seen, r.trades_written] for r in runs],
        "load_average": load,
    }
