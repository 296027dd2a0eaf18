"""Both channels together against a live, faulty sandbox: TMC makes trades fresh, polling
keeps them complete."""

from __future__ import annotations

import time
from itertools import groupby

import pytest

from tests.support.clock import advance
from tests.support.oracle import assert_matches_oracle, trades_current
from tests.support.tmc import (
    freshness,
    market,
    percentile,
    running,
    start_polling,
    stop_market,
)
from tests.support.waiting import wait_until
from trades.feed.changes import read_changes
from trades.sync.incremental import sync_shop
from trades.tmc.stats import counters

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
LIVE = {"trades_per_minute": 300, "changes_per_minute": 600, "refunds_per_minute": 60}


def assert_monotonic_feed(gateway, shop) -> None:
    """Per trade and refund, the feed's changes follow the platform's versions in the order
    the platform made them: an old message never put an older version over a newer one, and
    the feed keeps commit order. Two versions of one ``modified`` second may both be fed (the
    first fetched within its second, the second once the second was over), first to last."""
    events, cursor = [], None
    while True:
        page, cursor = read_changes(shop.tenant, cursor, 1000)
        if not page:
            break
        events += [e for e in page if e.shop_id == shop.pk]
    events.sort(key=lambda e: (e.entity, e.key))  # stable: feed order within each key
    seller = gateway.sandbox.state.sellers[shop.seller_nick]
    for (entity, key), group in groupby(events, lambda e: (e.entity, e.key)):
        fed = [(int(e.modified.timestamp()), e.status) for e in group]
        record = seller.trades[key] if entity == "trade" else seller.refunds[str(key)]
        made = iter([(v.modified, v.status) for v in record.versions])
        assert all(version in made for version in fed), (entity, key, fed)


def test_with_tmc_changes_arrive_within_seconds_without_polling(make_shop, gateway, consumer):
    shop = make_shop("fresh")
    with running(consumer):
        wait_until(lambda: gateway.control("tmc")["permits"], 10, "the permit")
        market(gateway, "fresh", **LIVE)
        time.sleep(12)
        stop_market(gateway, "fresh")
        # no polling at all: only TMC can bring them in
        wait_until(lambda: trades_current(gateway, shop), 15, "TMC to bring every trade")
    seconds = freshness(shop)
    p50, p99 = percentile(seconds, 50), percentile(seconds, 99)
    print(f"\nTMC freshness over {len(seconds)} changes: p50 {p50:.2f}s, p99 {p99:.2f}s")
    assert len(seconds) > 50
    # polling could not do better than its lag (SYNC_LAG_SECONDS, 180 s by default)
    assert p99 < 10
    assert_monotonic_feed(gateway, shop)


def test_duplicates_reordering_and_drops_end_equal_to_the_oracle(make_shop, gateway, consumer):
    shop = make_shop("chaos")
    start_polling(shop)
    gateway.faults(
        tmc_duplicate_rate=0.3,
        tmc_reorder_rate=0.5,
        tmc_reorder_seconds=3,
        tmc_drop_rate=0.2,
        tmc_visibility_seconds=2,
    )
    with running(consumer):
        wait_until(lambda: gateway.control("tmc")["permits"], 10, "the permit")
        market(gateway, "chaos", **LIVE)
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            time.sleep(2)
            sync_shop(shop, "trades")
            sync_shop(shop, "refunds")
        stop_market(gateway, "chaos")
        advance(gateway, 4 + 1)  # the polling lag
        sync_shop(shop, "trades")
        sync_shop(shop, "refunds")
        wait_until(
            lambda: gateway.control("tmc")["queues"]["app-1/default"]["pending"] == 0, 15, "drain"
        )
    assert_matches_oracle(gateway, shop)
    assert_monotonic_feed(gateway, shop)
    stats = counters("app-1")
    sandbox = gateway.control("tmc")
    assert sandbox["dropped"] > 10 and sandbox["duplicated"] > 10 and sandbox["delayed"] > 10
    assert stats["messages:collapsed"] > 0 and stats["messages:written"] > 50


def test_polling_alone_loses_nothing_when_tmc_drops_everything(make_shop, gateway, consumer):
    shop = make_shop("silent")
    start_polling(shop)
    gateway.faults(tmc_drop_rate=1.0)
    with running(consumer):
        market(gateway, "silent", **LIVE)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            time.sleep(2)
            sync_shop(shop, "trades")
            sync_shop(shop, "refunds")
        stop_market(gateway, "silent")
        advance(gateway, 4 + 1)  # the polling lag
        sync_shop(shop, "trades")
        sync_shop(shop, "refunds")
    assert_matches_oracle(gateway, shop)
    assert counters("app-1").get("messages:received", 0) == 0
    assert gateway.control("tmc")["dropped"] > 50
