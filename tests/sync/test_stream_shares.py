"""One sync of a shop's two streams: the refunds run gets its share of the time and its turn,
whatever the trades run before it took."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ordersync.taobao.types import parse_time
from shops.models import Checkpoint, SyncRun
from tests.support.clock import advance
from tools.bench.oracle import REFUNDS, compare, due_by, platform_now, stored, truth
from trades.sync.incremental import INCREMENTV, sync_shop
from trades.tasks import sync_shop_task

pytestmark = pytest.mark.django_db(transaction=True)
# the trades' list calls, whichever time their windows run on
TRADE_LISTS = [INCREMENTV, "taobao.trades.sold.increment.get"]


@pytest.fixture
def shop(make_shop, gateway, settings):
    """A shop whose two streams have their cursors at the present, with open trades to
    refund, and a trades window to read at the next sync."""
    settings.SYNC_LAG_SECONDS = 1
    settings.SYNC_OVERLAP_SECONDS = 1
    settings.TOP_BACKOFF_CAP = 0.2
    shop = make_shop("shares", history_trades=60, history_days=0.1)
    for stream in ("trades", "refunds"):
        assert sync_shop(shop, stream).outcome == SyncRun.Outcome.SUCCEEDED
    gateway.control("market", {"nick": shop.seller_nick, "burst": 3})
    advance(gateway, settings.SYNC_LAG_SECONDS + 1)
    return shop


def slow_trade_lists(gateway, seconds: float) -> None:
    gateway.faults(slow_rate=1.0, slow_seconds=seconds, methods=TRADE_LISTS)


def test_a_trades_run_that_takes_the_whole_time_leaves_the_refunds_their_share(
    shop, gateway, settings
):
    """The refunds' windows trail by a measured lag, so their fresh changes are stored by the
    read-ahead; a trades run slower than the sync's whole time must not leave the refunds
    run its first window alone, the fresh refunds waiting for the next sync."""
    settings.SYNC_RUN_TIME_LIMIT = 3
    refunds = Checkpoint.objects.get(shop=shop, stream="refunds")
    Checkpoint.objects.filter(pk=refunds.pk).update(
        measured_lag_seconds=60, lag_measured_at=timezone.now()
    )
    gateway.control("market", {"nick": shop.seller_nick, "refunds_per_minute": 600})
    advance(gateway, 3)
    gateway.control("market", {"nick": shop.seller_nick, "refunds_per_minute": 0})
    advance(gateway, settings.SYNC_LAG_SECONDS + 1)
    slow_trade_lists(gateway, 4)  # one list call outlasts the sync's 3 s

    assert sync_shop_task(shop.pk)[:2] == ["trades: succeeded", "refunds: succeeded"]

    def fresh(row: dict) -> bool:
        return parse_time(row["modified"]) > refunds.cursor

    diff = compare(REFUNDS, truth(gateway, shop.seller_nick, REFUNDS), stored(shop, REFUNDS), fresh)
    assert diff.checked > 0 and not diff.lost, str(diff)
    run = SyncRun.objects.filter(shop=shop, stream="refunds").latest("started_at")
    assert any("ahead of the cursor" in note for note in run.notes)


def test_a_back_off_that_ends_during_the_trades_run_lets_the_refunds_run(shop, gateway):
    """Whether the refunds wait is read when their turn comes, not before the trades run."""
    Checkpoint.objects.filter(shop=shop, stream="refunds").update(
        next_run_at=timezone.now() + timedelta(seconds=1)
    )
    slow_trade_lists(gateway, 2)

    assert sync_shop_task(shop.pk)[:2] == ["trades: succeeded", "refunds: succeeded"]


def test_a_stream_backing_off_at_its_turn_waits(shop):
    Checkpoint.objects.filter(shop=shop, stream="refunds").update(
        next_run_at=timezone.now() + timedelta(minutes=1)
    )
    refund_runs = SyncRun.objects.filter(shop=shop, stream="refunds")
    before = refund_runs.count()

    outcomes = sync_shop_task(shop.pk)

    assert [o for o in outcomes if o.startswith(("trades", "refunds"))] == ["trades: succeeded"]
    assert refund_runs.count() == before


def test_a_same_second_version_is_read_ahead_of_windows_held_back_by_a_measured_lag(
    shop, gateway, settings
):
    """The read-ahead stores the refunds its windows trail behind; a second version of a
    refund in the same ``modified`` second, visible after the first was read ahead, is stored
    by the next read-ahead too, not left to windows that trail by the measured lag."""
    refunds = Checkpoint.objects.get(shop=shop, stream="refunds")
    Checkpoint.objects.filter(pk=refunds.pk).update(
        measured_lag_seconds=600, lag_measured_at=timezone.now()
    )
    gateway.faults(same_second_rate=1.0, same_second_delay_seconds=20)
    gateway.control("market", {"nick": shop.seller_nick, "refunds_per_minute": 600})
    advance(gateway, 2)
    gateway.control("market", {"nick": shop.seller_nick, "refunds_per_minute": 0})
    advance(gateway, settings.SYNC_LAG_SECONDS + 1)
    sync_shop(shop, "refunds")  # the first versions, read ahead
    advance(gateway, 20)  # the second versions become visible

    run = sync_shop(shop, "refunds")

    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert gateway.control("stats")["errors_injected"].get("same_second", 0) > 0

    listed = due_by(platform_now(gateway), settings.SYNC_LAG_SECONDS, 0)

    def fresh(row: dict) -> bool:  # made since the cursor and visible by now
        return parse_time(row["modified"]) > refunds.cursor and listed(row)

    diff = compare(REFUNDS, truth(gateway, shop.seller_nick, REFUNDS), stored(shop, REFUNDS), fresh)
    assert diff.checked > 0 and not diff.lost, str(diff)
