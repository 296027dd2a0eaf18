"""End to end with the sandbox and its clock: shipped trades synced, the tracker run on its
schedule while the trace API fails now and then, every stall alerted once within one run of
crossing its threshold and cleared when the parcel moves or its trade ends; no alert for a
parcel that kept moving."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from ordersync.taobao.store import client_for
from shops.models import Checkpoint, SyncRun
from shops.top import app_credentials, client_for_shop
from tests.logistics.truth import episodes, last_move, stalled_now
from tests.support.clock import SandboxClock, advance, manual
from trades.feed.models import ChangeEvent
from trades.logistics.models import Parcel
from trades.logistics.tracking import track_shop
from trades.sync.incremental import sync_shop

pytestmark = pytest.mark.django_db(transaction=True)

NICK = "parcels-e2e"
TICK_HOURS = 2  # the tracker runs every two platform hours here (every 10 minutes in production)
MIX = {
    "logistics_stall_share": 0.3,
    "logistics_lost_share": 0.1,
    "logistics_unpicked_share": 0.1,
    "logistics_offline_share": 0.1,
    "logistics_split_share": 0.5,
    "logistics_stall_gap_hours": 100,
}


def signals_by_parcel(shop) -> dict[tuple[int, str], list[str]]:
    """Each parcel's stall events in the feed, keyed by (tid, waybill)."""
    waybill = dict(Parcel.objects.filter(shop=shop).values_list("pk", "out_sid"))
    out: dict[tuple[int, str], list[str]] = {}
    for change in ChangeEvent.objects.filter(shop=shop, entity="parcel").order_by("id"):
        out.setdefault((change.key, waybill[change.object_id]), []).extend(change.signals)
    return out


def sandbox_client(gateway, shop):
    """The shop's client on the sandbox's clock: days pass in a test, and the platform's
    10-minute timestamp window would refuse the measured offset's first call. Its retries
    of the trace API's faults do not sleep, and it has the app's budget (as the schedule's
    client has): the default 1000 calls a minute made the test wait on the wall clock for
    tokens, a minute of the eight platform days' reads."""
    app = client_for(
        app_credentials(shop.app),
        calls_per_minute=shop.app.calls_per_minute,
        clock=SandboxClock(gateway),
        sleep=lambda _: None,
    )
    return client_for_shop(shop, app)


def synced(gateway, shop) -> None:
    advance(gateway, 5)
    run = sync_shop(shop, "trades", client=sandbox_client(gateway, shop))
    assert run.outcome == SyncRun.Outcome.SUCCEEDED


def check(gateway, shop, settings) -> dict:
    truth = gateway.control(f"oracle/logistics?nick={NICK}")
    now = SandboxClock(gateway).now()
    hours = (settings.LOGISTICS_STALL_HOURS, settings.LOGISTICS_PICKUP_HOURS)
    ours = {
        (p.tid, p.out_sid): p for p in Parcel.objects.filter(shop=shop, stalled_at__isnull=False)
    }
    events = signals_by_parcel(shop)
    for parcel in truth["parcels"]:
        key = (parcel["tid"], parcel["out_sid"])
        stalls = episodes(parcel, now, *hours)
        if parcel["trade_status"] != "WAIT_BUYER_CONFIRM_GOODS":
            continue  # its trade ended: checked at the end
        # alerted once per stall, within one run of crossing the threshold
        assert events.get(key, []).count("logistics.stalled") == stalls, (key, parcel, now)
        if stalled_now(parcel, now, *hours):
            assert key in ours, (key, parcel, now)
        elif key in ours:  # moved: cleared at its next read, one interval at most
            waited = now - last_move(parcel)
            assert waited <= timedelta(hours=settings.LOGISTICS_MAX_CHECK_HOURS + TICK_HOURS)
    return truth


def test_stalls_are_alerted_once_and_cleared_when_parcels_move(make_shop, gateway, settings):
    settings.SYNC_LAG_SECONDS = 1
    settings.LOGISTICS_MIN_CHECK_HOURS = 4  # fewer reads of young parcels: a shorter test
    shop = make_shop(NICK)
    manual(gateway)
    Checkpoint.objects.filter(shop=shop).update(cursor=timezone.now() - timedelta(minutes=1))
    gateway.control("market", {"nick": NICK, **MIX, "burst": 40, "ship": 40})
    synced(gateway, shop)
    gateway.faults(isp_rate=0.1, http_500_rate=0.05, methods=["taobao.logistics.trace.search"])
    for _ in range(int(8 * 24 / TICK_HOURS)):
        track_shop(shop, sandbox_client(gateway, shop))
        truth = check(gateway, shop, settings)
        advance(gateway, TICK_HOURS * 3600, step=3600)
    fates = Counter(p["fate"] for p in truth["parcels"])
    assert min(fates[f] for f in ("normal", "stalled", "lost", "never_picked_up", "offline"))
    assert any(p["split"] for p in truth["parcels"])
    events = signals_by_parcel(shop)
    # a parcel that kept moving was never alerted; a stalled one that moved on was cleared
    for parcel in truth["parcels"]:
        key = (parcel["tid"], parcel["out_sid"])
        if parcel["fate"] in ("normal", "offline"):
            assert key not in events, (key, parcel)
        if parcel["fate"] == "stalled" and parcel["next_step_at"] is None:
            assert events[key] == ["logistics.stalled", "logistics.resumed"], (key, parcel)
    # trades end: their parcels are read no more, and their open alerts clear
    alerted = list(Parcel.objects.filter(shop=shop, stalled_at__isnull=False).values_list("pk"))
    gateway.control("market", {"nick": NICK, "changes": 400})
    synced(gateway, shop)
    track_shop(shop, sandbox_client(gateway, shop))
    truth = gateway.control(f"oracle/logistics?nick={NICK}")["parcels"]
    ended = {p["tid"] for p in truth if p["trade_status"] in ("TRADE_FINISHED", "TRADE_CLOSED")}
    for parcel in Parcel.objects.filter(shop=shop, tid__in=ended):
        assert parcel.done and parcel.next_check_at is None and parcel.stalled_at is None
    cleared = Parcel.objects.filter(shop=shop, tid__in=ended, pk__in=[pk for (pk,) in alerted])
    assert cleared.exists(), "no stalled parcel's trade ended: the clear was not tried"
    events = signals_by_parcel(shop)
    for parcel in cleared:
        assert events[(parcel.tid, parcel.out_sid)][-1] == "logistics.resumed"
