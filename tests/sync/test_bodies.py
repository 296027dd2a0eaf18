"""The engine against a sandbox that answers as the platform really does: incomplete success
bodies, same-second versions, rows moving across page boundaries, wasted detail calls."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from ordersync.sandbox import activity, lifecycle
from ordersync.taobao import api
from ordersync.taobao.store import client_for
from ordersync.taobao.types import PLATFORM_TZ
from shops.models import Checkpoint, Shop, SyncRun
from shops.top import app_credentials, client_for_shop
from trades.feed.models import ChangeEvent
from trades.models import Refund, Trade
from trades.sync.fields import REFUND_FIELDS, TRADE_FIELDS
from trades.sync.incremental import sync_shop
from trades.sync.streams import STREAMS
from trades.sync.write import write_refunds, write_trades

pytestmark = pytest.mark.django_db(transaction=True)

INCREMENT = "taobao.trades.sold.increment.get"
INCREMENTV = "taobao.trades.sold.incrementv.get"  # the trade windows' API where allowed
FULLINFO = "taobao.trade.fullinfo.get"


def live_shop(make_shop, gateway, nick: str, trades: int) -> Shop:
    """A shop whose cursor stands 10 minutes back, with ``trades`` new trades since then."""
    shop = make_shop(nick)
    cursor = timezone.now() - timedelta(minutes=10)
    Checkpoint.objects.filter(shop=shop).update(cursor=cursor)
    gateway.control("market", {"nick": nick, "burst": trades})
    return shop


class SandboxClock:
    """The sandbox's own clock, skew included: tests move platform time without sleeping."""

    def __init__(self, gateway) -> None:
        self.world = gateway.sandbox.state

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.world.now(), PLATFORM_TZ)


def sandbox_client(shop: Shop, gateway):
    """The shop's client on the sandbox's clock, with the app's budget: the default 1000
    calls a minute had the peak-mode details wait on the wall clock for tokens."""
    app = client_for(
        app_credentials(shop.app),
        calls_per_minute=shop.app.calls_per_minute,
        clock=SandboxClock(gateway),
    )
    return client_for_shop(shop, app)


def later(gateway, seconds: int) -> None:
    """Move the sandbox's (and so the engine's) platform time on by ``seconds``."""
    skew = gateway.sandbox.state.clock.skew_seconds
    gateway.faults(skew_seconds=skew + seconds)


def calls(gateway, method: str) -> int:
    return sum(gateway.sandbox.state.calls[method].values())


@pytest.mark.parametrize("part", ["root", "count", "list"])
def test_an_incomplete_success_body_fails_the_window_and_keeps_the_cursor(
    make_shop, gateway, settings, part
):
    settings.SYNC_LAG_SECONDS = 0
    settings.TOP_MAX_ATTEMPTS = 1
    shop = live_shop(make_shop, gateway, f"bodies-{part}", 30)
    before = Checkpoint.objects.get(shop=shop, stream="trades").cursor
    gateway.faults(incomplete_rate=1.0, incomplete_parts=[part], methods=[INCREMENT, INCREMENTV])
    run = sync_shop(shop, "trades")
    assert run.outcome == SyncRun.Outcome.FAILED and run.error_class == "Transient"
    assert Checkpoint.objects.get(shop=shop, stream="trades").cursor == before
    assert not Trade.objects.filter(shop=shop).exists()
    gateway.faults(incomplete_rate=0.0)
    assert sync_shop(shop, "trades").outcome == SyncRun.Outcome.SUCCEEDED
    assert Trade.objects.filter(shop=shop).count() == len(gateway.oracle_trades(shop.seller_nick))


def same_second_change(gateway, nick: str, delay: int = 600):
    """Change one trade twice in one second; the lists show the second version ``delay``
    seconds after the first. Return (tid, first status, second status)."""
    world = gateway.sandbox.state
    gateway.faults(same_second_rate=1.0, same_second_delay_seconds=delay)
    seller = world.sellers[nick]
    trade = next(t for t in seller.by_created if t.current.status == "WAIT_BUYER_PAY")
    with world.lock:
        activity.change_trade(world, seller, trade, world.now())
    gateway.faults(same_second_rate=0.0)
    first, second = trade.versions[-2:]
    assert first.modified == second.modified and first.status != second.status
    return trade.tid, first.status, second.status


def statuses_fed(shop: Shop, tid: int) -> list[tuple[str, str | None]]:
    events = ChangeEvent.objects.filter(shop=shop, key=tid).order_by("id")
    return list(events.values_list("status", "previous_status"))


def test_a_same_second_older_list_entry_never_overwrites_the_platforms_current_version(
    make_shop, gateway, settings
):
    settings.SYNC_LAG_SECONDS = 0
    shop = live_shop(make_shop, gateway, "same-second", 5)
    tid, first, second = same_second_change(gateway, "same-second")
    client = sandbox_client(shop, gateway)
    # the list shows the first version: stored as it is
    later(gateway, 2)
    assert sync_shop(shop, "trades", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    assert Trade.objects.get(shop=shop, tid=tid).status == first
    # a push channel stores the second (fullinfo is always current)
    current = api.trade_fullinfo_get(client, shop.session_key, tid, TRADE_FIELDS)
    write_trades(shop, [current], current=True)
    # the list still shows the first version, with the same modified: the platform settles it
    before = calls(gateway, FULLINFO)
    later(gateway, 2)
    assert sync_shop(shop, "trades", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    assert Trade.objects.get(shop=shop, tid=tid).status == second
    assert calls(gateway, FULLINFO) == before + 1  # one detail call settled the tie
    assert statuses_fed(shop, tid) == [(first, None), (second, first)]  # never backwards


def test_a_same_second_newer_list_entry_is_settled_and_written(make_shop, gateway, settings):
    settings.SYNC_LAG_SECONDS = 0
    shop = live_shop(make_shop, gateway, "same-second-b", 5)
    tid, first, second = same_second_change(gateway, "same-second-b", delay=5)
    client = sandbox_client(shop, gateway)
    later(gateway, 2)
    assert sync_shop(shop, "trades", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    assert Trade.objects.get(shop=shop, tid=tid).status == first
    later(gateway, 6)  # the second version is listed now
    assert sync_shop(shop, "trades", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    assert Trade.objects.get(shop=shop, tid=tid).status == second
    assert statuses_fed(shop, tid)[-1] == (second, first)


def test_peak_lists_fetch_details_only_for_versions_not_stored_whole(make_shop, gateway, settings):
    settings.SYNC_LAG_SECONDS = 0
    shop = live_shop(make_shop, gateway, "peak", 20)
    gateway.faults(peak_mode=True)
    client = sandbox_client(shop, gateway)
    later(gateway, 2)
    assert sync_shop(shop, "trades", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    stored = Trade.objects.filter(shop=shop).count()
    assert stored > 0 and calls(gateway, FULLINFO) == stored
    # the next run re-reads the same rows in its overlap: no detail call for any of them
    later(gateway, 2)
    assert sync_shop(shop, "trades", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    assert calls(gateway, FULLINFO) == stored
    # a trade that changed is fetched again, and only that one
    world = gateway.sandbox.state
    seller = world.sellers["peak"]
    trade = next(t for t in seller.by_created if t.current.status == "WAIT_BUYER_PAY")
    with world.lock:
        activity.change_trade(world, seller, trade, world.now())
    later(gateway, 2)
    assert sync_shop(shop, "trades", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    assert calls(gateway, FULLINFO) == stored + 1
    assert Trade.objects.get(shop=shop, tid=trade.tid).status == trade.current.status
    # a push channel stored a newer version than the lagging list shows: no detail call
    with world.lock:  # a change listed only in ten minutes
        if not lifecycle.advance(seller, trade, world.now() + 1, 600):
            lifecycle.touch(seller, trade, world.now() + 1, 600)
    pushed = api.trade_fullinfo_get(client, shop.session_key, trade.tid, TRADE_FIELDS)
    write_trades(shop, [pushed], current=True)
    later(gateway, 2)
    assert sync_shop(shop, "trades", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    assert calls(gateway, FULLINFO) == stored + 2  # the push channel's call only
    assert Trade.objects.get(shop=shop, tid=trade.tid).status == trade.current.status


def test_a_same_second_refund_conflict_is_settled_with_refund_get(
    make_shop, gateway, settings, monkeypatch
):
    settings.SYNC_LAG_SECONDS = 0
    shop = make_shop("refund-tie", history_trades=40, history_days=2)
    Checkpoint.objects.filter(shop=shop).update(cursor=timezone.now() - timedelta(minutes=10))
    world = gateway.sandbox.state
    seller = world.sellers["refund-tie"]
    with world.lock:
        trade = next(
            t
            for t in seller.by_created
            if lifecycle.start_refund(seller, world.ids, t, world.now(), 0)
        )
    refund_id = next(int(r.refund_id) for r in seller.refunds.values() if r.tid == trade.tid)
    client = sandbox_client(shop, gateway)
    current = api.refund_get(client, shop.session_key, refund_id, REFUND_FIELDS)
    write_refunds(shop, [current], current=True)  # as a push channel stores it

    def stale_list(*args, **kwargs):
        """The list shows an earlier version of the same second (a lagging index)."""
        page = api.refunds_receive_get(*args, **kwargs)
        for item in page.items:
            if item["refund_id"] == refund_id:
                item.update(status="SELLER_REFUSE_BUYER", desc="an earlier version")
        return page

    stream = dataclasses.replace(STREAMS["refunds"], list_modified=stale_list)
    monkeypatch.setitem(STREAMS, "refunds", stream)
    later(gateway, 2)
    assert sync_shop(shop, "refunds", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    assert Refund.objects.get(shop=shop, refund_id=refund_id).status == current["status"]
    assert statuses_fed(shop, refund_id) == [(current["status"], None)]  # nothing backwards


def test_every_new_fault_at_once_loses_nothing_and_keeps_nothing_stale(
    make_shop, gateway, settings
):
    settings.SYNC_LAG_SECONDS = 0
    settings.SYNC_PAGE_SIZE = 20  # many page boundaries for rows to move across
    settings.TOP_BACKOFF_CAP = 0.05
    shop = live_shop(make_shop, gateway, "all-faults", 60)
    client = sandbox_client(shop, gateway)
    gateway.faults(
        incomplete_rate=0.1,
        same_second_rate=0.3,
        same_second_delay_seconds=3,
        tie_shuffle=True,
        drift_rate=0.3,
        drift_trades=2,
        peak_mode=True,
    )
    gateway.control(
        "market", {"nick": "all-faults", "trades_per_minute": 300, "changes_per_minute": 900}
    )
    for _ in range(4):
        later(gateway, 1)
        sync_shop(shop, "trades", client=client)
        Checkpoint.objects.filter(shop=shop).update(next_run_at=None)
    gateway.control(
        "market", {"nick": "all-faults", "trades_per_minute": 0, "changes_per_minute": 0}
    )
    gateway.faults(incomplete_rate=0, drift_rate=0, same_second_rate=0)
    later(gateway, 5)  # every second version is listed now
    assert sync_shop(shop, "trades", client=client).outcome == SyncRun.Outcome.SUCCEEDED
    injected = gateway.control("stats")["errors_injected"]
    assert injected.get("same_second") and injected.get("drift"), injected
    oracle = gateway.oracle_trades(shop.seller_nick)
    ours = {
        t.tid: (t.status, t.modified.astimezone(PLATFORM_TZ).strftime("%Y-%m-%d %H:%M:%S"))
        for t in Trade.objects.filter(shop=shop)
    }
    assert ours == {tid: (t["status"], t["modified"]) for tid, t in oracle.items()}
