"""Windows on visibility time (``incrementv.get``) keep a small overlap, and a change listed
after its ``async_modified`` window had passed widens it: the sandbox stamps
``async_modified`` before the row is listed (``visible_early_seconds``, the harsher guess
where the platform's behaviour is unconfirmed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shops.models import Checkpoint, Shop
from tests.support.clock import advance, manual
from trades.models import Trade
from trades.sync import late
from trades.sync.incremental import sync_shop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def visible(settings):
    settings.SYNC_LAG_SECONDS = 180
    settings.SYNC_VISIBLE_OVERLAP_SECONDS = 6
    settings.SYNC_SWEEP_SECONDS = 0  # the overlap alone: no sweep behind the cursor
    return settings


def new_trade(gateway, shop: Shop, early: int) -> int:
    """A new trade stamped ``async_modified`` now (its ``modified``) and listed ``early``
    seconds later; return its tid."""
    before = set(gateway.oracle_trades(shop.seller_nick))
    gateway.faults(lag_seconds=early, visible_early_seconds=early)
    gateway.control("market", {"nick": shop.seller_nick, "burst": 1})
    gateway.faults(lag_seconds=0, visible_early_seconds=0)
    (tid,) = set(gateway.oracle_trades(shop.seller_nick)) - before
    return tid


def sync_after(gateway, shop: Shop, seconds: int):
    advance(gateway, seconds)
    return sync_shop(shop, "trades")


def stored(shop: Shop, tid: int) -> bool:
    return Trade.objects.filter(shop=shop, tid=tid).exists()


def late_by_five(gateway, shop: Shop):
    """A trade listed 9 s after its stamp: the window that covers it passes it (its end
    2 s before now), and the next one finds it 5 s behind the cursor, in its overlap."""
    tid = new_trade(gateway, shop, early=9)
    sync_after(gateway, shop, 7)
    assert not stored(shop, tid)
    run = sync_after(gateway, shop, 3)
    assert stored(shop, tid)
    return run


def test_visibility_time_windows_keep_the_small_overlap_and_widen_it_on_a_late_arrival(
    shop_a, visible
):
    checkpoint = Checkpoint(shop=shop_a, stream="trades")
    lag, overlap = late.lag_and_overlap(checkpoint, late.VISIBLE)
    assert (lag.total_seconds(), overlap.total_seconds()) == (2, 6)
    assert late.lag_and_overlap(checkpoint, late.MODIFIED)[1].total_seconds() == 300
    checkpoint.measured_lag_seconds, checkpoint.lag_measured_at = 12, timezone.now()
    lag, overlap = late.lag_and_overlap(checkpoint, late.VISIBLE)
    assert (lag.total_seconds(), overlap.total_seconds()) == (12, 16)


def test_a_stamp_before_the_listing_is_found_late_and_the_widened_overlap_finds_the_next(
    make_shop, gateway, visible
):
    """The first trade is found 5 s behind the cursor, in the 6 s overlap: a late arrival
    (lag 2 + 5 s), which widens lag and overlap by 5 s. The second is listed when it lies
    8–9 s behind the cursor: beyond the overlap setting, found because the first widened it."""
    manual(gateway)
    shop = make_shop("stamped-early")
    sync_shop(shop, "trades")  # the cursor starts at the present

    late_by_five(gateway, shop)

    checkpoint = Checkpoint.objects.get(shop=shop, stream="trades")
    assert checkpoint.progress["source"] == late.VISIBLE
    assert checkpoint.late_arrivals == 1
    lag, overlap = late.lag_and_overlap(checkpoint, late.VISIBLE)
    # the sample: lag 2 + about 5 s (our estimate of platform time is within a second)
    assert timedelta(seconds=6) <= lag <= timedelta(seconds=7)
    assert timedelta(seconds=10) <= overlap <= timedelta(seconds=11)

    second = new_trade(gateway, shop, early=20)
    sync_after(gateway, shop, 15)  # the cursor passes the stamp by 15 s − lag: 8–9 s
    assert not stored(shop, second)
    sync_after(gateway, shop, 5)

    assert stored(shop, second)
    assert Checkpoint.objects.get(shop=shop, stream="trades").late_arrivals == 2


def test_a_late_arrival_on_visibility_time_sweeps_behind_the_cursor(make_shop, gateway, visible):
    """A trade listed when it lies further behind the cursor than the overlap reaches is
    found by the sweep that a late arrival on visibility time starts; no sweep runs
    before one."""
    visible.SYNC_SWEEP_SECONDS = 120
    visible.SYNC_SWEEP_PERIOD_SECONDS = 0
    manual(gateway)
    shop = make_shop("swept-visible")
    sync_shop(shop, "trades")
    lost = new_trade(gateway, shop, early=30)
    sync_after(gateway, shop, 3)
    sync_after(gateway, shop, 10)  # the cursor passes its stamp by 11 s
    run = sync_after(gateway, shop, 20)  # listed now, beyond the overlap
    assert not stored(shop, lost)
    assert not any("swept" in note for note in run.notes)

    run = late_by_five(gateway, shop)

    assert stored(shop, lost), run.notes
    assert any("swept" in note for note in run.notes)
    assert Checkpoint.objects.get(shop=shop, stream="trades").late_arrivals == 2
