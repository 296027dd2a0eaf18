"""A TMC consumer run in a thread or drained inline, the market, and freshness figures."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from django.db import connection

from ordersync.taobao.types import PLATFORM_TZ
from trades.feed.models import ChangeEvent
from trades.sync.incremental import sync_shop
from trades.tmc.consumer import Consumer
from trades.tmc.stats import PullResult


@contextmanager
def running(consumer: Consumer):
    """Run ``consumer`` in a thread (its own database connection) for the block."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            consumer.run(stop)
        except BaseException as error:  # surfaced by the test below
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="tmc-test")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and not errors, errors


def start_polling(shop) -> None:
    """Give both streams a cursor at the present (no backfill: the shops start empty)."""
    sync_shop(shop, "trades")
    sync_shop(shop, "refunds")


def market(gateway, nick: str, **rates) -> None:
    gateway.control("market", {"nick": nick, **rates})


def stop_market(gateway, nick: str) -> None:
    market(gateway, nick, trades_per_minute=0, changes_per_minute=0, refunds_per_minute=0)


def freshness(shop) -> list[float]:
    """Seconds from each change's platform ``modified`` to its commit here (feed events)."""
    return sorted(
        (created - modified).total_seconds()
        for created, modified in ChangeEvent.objects.filter(shop=shop).values_list(
            "created_at", "modified"
        )
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def platform(dt) -> str:
    return dt.astimezone(PLATFORM_TZ).strftime("%Y-%m-%d %H:%M:%S")


def drain(consumer: Consumer, timeout: float = 15) -> PullResult:
    """Pull until nothing comes and nothing is held; return the sum of the pulls."""
    total = PullResult()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = consumer.pull_once()
        total.received += result.received
        total.outcomes.update(result.outcomes)
        total.fetches.update(result.fetches)
        total.confirmed += result.confirmed
        if not result.received and not consumer.held:
            return total
        time.sleep(0.05)
    raise AssertionError("the consumer did not drain")
