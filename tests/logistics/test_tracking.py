"""The tracker's rules without a sandbox: parcels per waybill, the reading schedule, a stall
raised once and cleared when the parcel moves or its trade ends, offline waybills read once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_q.models import Schedule

from shops.models import Shop
from tests.support.records import wire_shipped
from trades.feed.models import ChangeEvent
from trades.logistics.models import Parcel
from trades.logistics.tracking import (
    Tally,
    apply_trace,
    discover_parcels,
    end_parcels,
    shops_to_track,
    track_shop,
)
from trades.sync.write import write_trades
from trades.tasks import track_parcels_task

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def step(at: str, action: str, desc: str = "运输中") -> dict:
    return {"status_time": at, "status_desc": desc, "action": action}


CONSIGN = step("2026-11-11 10:00:00", "CONSIGN", "卖家已发货")
GOT = step("2026-11-11 12:00:00", "GOT", "快件已揽收")


def read(parcel: Parcel, hours: float, *steps: dict) -> Parcel:
    """Apply a trace answer of ``steps`` read ``hours`` after the consignment."""
    body = {"status": steps[-1]["status_desc"], "trace_list": list(steps)}
    return apply_trace(parcel.pk, body, parcel.consigned_at + hours * HOUR, Tally())


def parcel_of(shop, waybills: dict, **kw) -> Parcel:
    write_trades(shop, [wire_shipped(10, waybills, **kw)])
    discover_parcels(shop)
    return Parcel.objects.get(shop=shop, out_sid=next(iter(waybills)))


def signals(shop) -> list[str]:
    changes = ChangeEvent.objects.filter(shop=shop, entity="parcel").order_by("id")
    return [signal for change in changes for signal in change.signals]


def test_a_parcel_per_waybill_and_a_later_consignment_adds_its_own(shop_a):
    parcel_of(shop_a, {"YTO1": (11, 12)})
    first = Parcel.objects.get(out_sid="YTO1")
    assert first.sub_oids == [] and first.company_name == "圆通速递"
    later = wire_shipped(10, {"YTO1": (11,), "ZTO2": (12,)}, modified="2026-11-12 09:00:00")
    write_trades(shop_a, [later])
    assert discover_parcels(shop_a) == 2
    assert discover_parcels(shop_a) == 0  # nothing new to look at
    bills = dict(Parcel.objects.filter(shop=shop_a).values_list("out_sid", "sub_oids"))
    assert bills == {"YTO1": [11], "ZTO2": [12]}  # read per sub-order from now on


def test_reads_grow_apart_with_age_and_quiet_time_and_never_pass_a_threshold(shop_a, settings):
    parcel = parcel_of(shop_a, {"YTO1": (11,)})
    assert parcel.next_check_at == parcel.consigned_at  # due at once
    young = read(parcel, 3, CONSIGN, GOT)
    assert young.next_check_at == young.consigned_at + 5 * HOUR  # the 2-hour floor
    moved = step("2026-11-12 10:00:00", "TRANSPORT")  # 24 hours after the consignment
    older = read(parcel, 48, CONSIGN, GOT, moved)  # 48 h old, 24 h quiet: 9 hours
    assert older.next_check_at == older.consigned_at + 57 * HOUR
    quiet = read(parcel, 90, CONSIGN, GOT, moved)  # 90 + 66: 19.5 h, but 72 h quiet at 96 h
    assert quiet.next_check_at == quiet.consigned_at + 96 * HOUR
    assert quiet.stalled_at is None and quiet.checks == 3


def test_a_stall_is_raised_once_and_cleared_when_the_parcel_moves(shop_a):
    parcel = parcel_of(shop_a, {"YTO1": (11,)})
    read(parcel, 23.9, CONSIGN)
    assert signals(shop_a) == []  # not yet a day without pickup
    stalled = read(parcel, 24, CONSIGN)
    assert stalled.stall == "no_pickup" and stalled.stalled_at is not None
    for hours in (30, 40, 60):
        read(parcel, hours, CONSIGN)
    assert signals(shop_a) == ["logistics.stalled"]
    moved = read(parcel, 61, CONSIGN, step("2026-11-13 22:00:00", "GOT"))
    assert moved.stall == "" and moved.stalled_at is None
    assert signals(shop_a) == ["logistics.stalled", "logistics.resumed"]
    change = ChangeEvent.objects.filter(shop=shop_a, entity="parcel").last()
    assert (change.previous_status, change.status, change.key) == ("no_pickup", "moving", 10)
    again = read(parcel, 61 + 72, CONSIGN, step("2026-11-13 22:00:00", "GOT"))
    assert again.stall == "no_movement"
    assert signals(shop_a)[-1] == "logistics.stalled"


def test_an_ended_trade_stops_tracking_and_clears_its_stall(shop_a):
    parcel = parcel_of(shop_a, {"YTO1": (11,)})
    read(parcel, 30, CONSIGN)
    finished = {**wire_shipped(10, {"YTO1": (11,)}), "status": "TRADE_FINISHED"}
    write_trades(shop_a, [{**finished, "modified": "2026-11-14 10:00:00"}])
    end_parcels(shop_a, parcel.consigned_at + 80 * HOUR, Tally())
    ended = Parcel.objects.get(pk=parcel.pk)
    assert (ended.done, ended.next_check_at, ended.stalled_at) == ("trade_ended", None, None)
    assert signals(shop_a) == ["logistics.stalled", "logistics.resumed"]


def test_signed_and_offline_waybills_are_read_no_more(shop_a):
    parcel = parcel_of(shop_a, {"YTO1": (11,)})
    offline = read(parcel, 1, step("2026-11-11 10:00:00", "SIGNED", "对方已签收"))
    assert (offline.done, offline.next_check_at) == ("offline", None)
    write_trades(shop_a, [wire_shipped(20, {"SF2": (21,)})])
    discover_parcels(shop_a)
    other = Parcel.objects.get(out_sid="SF2")
    signed = read(other, 50, CONSIGN, GOT, step("2026-11-12 18:00:00", "SIGNED", "已签收"))
    assert (signed.done, signed.next_check_at) == ("signed", None)
    assert read(other, 200, CONSIGN, GOT).events[-1][2] == "SIGNED"  # an older answer: kept
    assert signals(shop_a) == []


def test_a_consignment_time_that_cannot_be_read_makes_no_parcel(shop_a):
    assert parcel_of(shop_a, {"YTO1": (11,)}).pk
    write_trades(shop_a, [wire_shipped(30, {"BAD": (31,)}, consigned="2026-13-45 99:00:00")])
    discover_parcels(shop_a)
    assert not Parcel.objects.filter(out_sid="BAD").exists()


def test_with_tracking_off_nothing_is_read(shop_a, settings):
    settings.LOGISTICS_TRACKING = False
    write_trades(shop_a, [wire_shipped(10, {"YTO1": (11,)})])
    assert track_shop(shop_a) == Tally() and not Parcel.objects.exists()


def test_metrics_count_each_shops_stalled_and_tracked_parcels(client, shop_a, shop_b):
    read(parcel_of(shop_a, {"YTO1": (11,)}), 30, CONSIGN)
    parcel_of(shop_b, {"ZTO9": (11,)})
    body = client.get("/metrics").content.decode()

    def sample(family: str, shop) -> list[str]:
        return [
            line
            for line in body.splitlines()
            if line.startswith(family + "{") and f'shop_id="{shop.pk}"' in line
        ]

    stalled = "ordersync_logistics_stalled_parcels"
    (line,) = sample(stalled, shop_a)
    assert 'stall="no_pickup"' in line and line.endswith(" 1")
    assert sample(stalled, shop_b) == []
    for shop in (shop_a, shop_b):
        (line,) = sample("ordersync_logistics_tracked_parcels", shop)
        assert line.endswith(" 1")


def test_shops_without_parcels_come_first_then_the_most_overdue(shop_a, shop_b, top_app):
    parcel_of(shop_a, {"YTO1": (11,)})
    write_trades(shop_b, [wire_shipped(10, {"ZTO9": (11,)}, consigned="2026-11-10 08:00:00")])
    discover_parcels(shop_b)
    new = Shop.objects.create(
        tenant=shop_a.tenant, app=top_app, seller_nick="new", seller_id=9, session_key="x"
    )
    Shop.objects.create(
        tenant=shop_a.tenant,
        app=top_app,
        seller_nick="gone",
        seller_id=8,
        session_key="y",
        status=Shop.Status.NEEDS_REAUTH,
    )
    assert list(shops_to_track()) == [new, shop_b, shop_a]


def test_the_schedule_runs_the_task_over_the_active_shops(shop_a, settings):
    schedule = Schedule.objects.get(name="logistics-track")
    assert (schedule.func, schedule.minutes) == ("trades.tasks.track_parcels_task", 10)
    settings.LOGISTICS_TRACKING = False  # no gateway here: the run visits the shop, reads none
    assert track_parcels_task() == "0 traces read in 1 shops"
