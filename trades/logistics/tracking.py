"""The tracker: parcels for shipped trades, their traces read on a schedule, stalls raised.

``track_shop`` is the verb the schedule calls for each active shop (``trades/tasks.py``):
it finds the waybills of shipped trades not known yet, ends the parcels whose trade finished
or closed, and reads the trace of the parcels that are due, through the shop's client and
so within the app's shared API budget. Each read, and each end, is one transaction that
stores the parcel and, when its stall began or ended, records the change (``logistics.stalled``
or ``logistics.resumed``) in the feed, whose webhook outbox follows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import (
    InvalidRequest,
    RateLimited,
    SessionInvalid,
    TopError,
    Transient,
)
from ordersync.taobao.types import parse_time
from shops.models import Shop
from shops.top import client_for_shop
from trades.feed.changes import Change, record_changes
from trades.logistics import trace
from trades.logistics.models import Parcel
from trades.models import Trade

logger = logging.getLogger(__name__)

SHIPPED = ("WAIT_BUYER_CONFIRM_GOODS", "SELLER_CONSIGNED_PART", "TRADE_BUYER_SIGNED")
ENDED = ("TRADE_FINISHED", "TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO")
STALLED_EVENT = "logistics.stalled"
RESUMED_EVENT = "logistics.resumed"
TRACK_LOCK = 0x4C47  # "LG": first key of the advisory lock of one shop's tracking run
RETRY_SOON = timedelta(minutes=15)  # after a failed read


@dataclass
class Tally:
    found: int = 0
    ended: int = 0
    read: int = 0
    failed: int = 0
    stalled: int = 0
    resumed: int = 0


def track_shop(shop: Shop, client: TopClient | None = None) -> Tally:
    """One tracking run of the shop; a run already going for it makes this one leave, and
    with ``LOGISTICS_TRACKING`` off there is none."""
    tally = Tally()
    if not settings.LOGISTICS_TRACKING:
        return tally
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [TRACK_LOCK, shop.pk])
        if not cursor.fetchone()[0]:
            return tally
    try:
        client = client_for_shop(shop, client)
        now = client.clock.now()
        tally.found = discover_parcels(shop)
        end_parcels(shop, now, tally)
        check_parcels(shop, client, now, tally)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [TRACK_LOCK, shop.pk])
    return tally


def shops_to_track() -> QuerySet[Shop]:
    """The active shops, those without parcels yet first, then by their most overdue one."""
    oldest = (
        Parcel.objects.filter(shop=OuterRef("pk"), next_check_at__isnull=False)
        .order_by("next_check_at")
        .values("next_check_at")[:1]
    )
    shops = Shop.objects.filter(status=Shop.Status.ACTIVE).select_related("app", "tenant")
    return shops.annotate(due=Subquery(oldest)).order_by(F("due").asc(nulls_first=True), "pk")


# --- parcels of shipped trades ---------------------------------------------------------------
def discover_parcels(shop: Shop) -> int:
    """A parcel for each waybill of the shop's shipped trades read since they were last
    looked at; return how many waybills were seen."""
    known = Parcel.objects.filter(trade=OuterRef("pk"), trade_modified__gte=OuterRef("modified"))
    trades = (
        Trade.objects.filter(tenant_id=shop.tenant_id, shop=shop, status__in=SHIPPED)
        .exclude(Exists(known))
        .values_list("pk", "tid", "modified", "payload")
    )
    parcels = [p for row in trades.iterator(chunk_size=500) for p in _parcels(shop, *row)]
    Parcel.objects.bulk_create(
        parcels,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["trade", "out_sid"],
        update_fields=["sub_oids", "trade_modified"],
    )
    return len(parcels)


def _parcels(shop: Shop, trade_pk: int, tid: int, modified: datetime, payload: dict) -> list:
    bills = waybills(payload)
    parcels = []
    for out_sid, orders in bills.items():
        consigned = _time(orders[0]["consign_time"])
        if consigned is None:
            continue  # a consignment time we cannot read: the next version of the trade
        parcels.append(
            Parcel(
                tenant_id=shop.tenant_id,
                shop=shop,
                trade_id=trade_pk,
                tid=tid,
                out_sid=out_sid,
                company_name=str(orders[0].get("logistics_company") or "")[:64],
                sub_oids=[int(o["oid"]) for o in orders] if len(bills) > 1 else [],
                consigned_at=consigned,
                trade_modified=modified,
                next_check_at=consigned,  # due at once
            )
        )
    return parcels


def _time(text: str) -> datetime | None:
    try:
        return parse_time(text)
    except ValueError:
        return None


def waybills(payload: dict[str, Any]) -> dict[str, list[dict]]:
    """The trade's consigned sub-orders by waybill (``invoice_no``)."""
    bills: dict[str, list[dict]] = {}
    for order in payload.get("orders") or []:
        if order.get("consign_time") and order.get("invoice_no") and order.get("oid"):
            bills.setdefault(str(order["invoice_no"])[:64], []).append(order)
    return bills


# --- the end of tracking ---------------------------------------------------------------------
def end_parcels(shop: Shop, now: datetime, tally: Tally) -> None:
    """Stop tracking the parcels whose trade finished or closed; clear their stalls."""
    ending = Parcel.objects.filter(
        shop=shop, next_check_at__isnull=False, trade__status__in=ENDED
    ).values_list("pk", flat=True)
    for pk in list(ending):
        with transaction.atomic():
            parcel = Parcel.objects.select_for_update().get(pk=pk)
            before = trace.state(parcel)
            parcel.done = Parcel.Done.TRADE_ENDED
            _settle(parcel, before, now, tally)
        tally.ended += 1


# --- reading traces --------------------------------------------------------------------------
def check_parcels(shop: Shop, client: TopClient, now: datetime, tally: Tally) -> None:
    """Read the traces of the shop's parcels that are due, the most overdue first."""
    due = Parcel.objects.filter(shop=shop, next_check_at__lte=now).order_by("next_check_at")
    for parcel in due[: settings.LOGISTICS_CHECKS_PER_RUN]:
        try:
            body = api.logistics_trace_search(client, shop.session_key, parcel.tid, parcel.sub_oids)
        except (SessionInvalid, RateLimited) as error:
            logger.warning("shop %s: tracking stops for now (%s)", shop.pk, type(error).__name__)
            return  # the sync marks a dead session; a ban parks the app's calls anyway
        except TopError as error:
            tally.failed += 1
            _read_failed(parcel, now, error)
            continue
        if body.get("out_sid") and body["out_sid"] != parcel.out_sid:
            tally.failed += 1  # another waybill's trace: the trade's waybills changed
            _read_failed(parcel, now, InvalidRequest(f"waybill {body['out_sid']}"))
            continue
        tally.read += 1
        apply_trace(parcel.pk, body, now, tally)


def _read_failed(parcel: Parcel, now: datetime, error: TopError) -> None:
    logger.info("parcel %s: trace read failed: %s", parcel.pk, type(error).__name__)
    later = RETRY_SOON if isinstance(error, Transient) else timedelta(hours=24)
    Parcel.objects.filter(pk=parcel.pk).update(next_check_at=now + later)


def apply_trace(parcel_pk: int, body: dict[str, Any], now: datetime, tally: Tally) -> Parcel:
    """Store what a trace answer says of the parcel at platform time ``now``; raise or clear
    its stall. Return the parcel as stored."""
    with transaction.atomic():
        parcel = Parcel.objects.select_for_update().get(pk=parcel_pk)
        before = trace.state(parcel)
        parcel.events = trace.merged(parcel.events, trace.events_of(body))
        parcel.status = str(body.get("status") or parcel.status)[:200]
        parcel.last_event_at = trace.last_movement(parcel.events)
        parcel.picked_up = trace.picked_up(parcel.events)
        parcel.checks += 1
        if not parcel.done and trace.is_signed(parcel.events, parcel.status):
            offline = len(parcel.events) <= 1
            parcel.done = Parcel.Done.OFFLINE if offline else Parcel.Done.SIGNED
        _settle(parcel, before, now, tally)
    return parcel


def _settle(parcel: Parcel, before: str, now: datetime, tally: Tally) -> None:
    """Raise or clear the parcel's stall as of ``now``, schedule its next read, save it and
    record the change when its stall began or ended. Inside the caller's transaction."""
    stall = trace.stall_of(parcel, now)
    signal = ""
    if stall and not parcel.stall:
        parcel.stalled_at, signal = now, STALLED_EVENT
        tally.stalled += 1
    elif parcel.stall and not stall:
        parcel.stalled_at, signal = None, RESUMED_EVENT
        tally.resumed += 1
    parcel.stall = stall
    parcel.next_check_at = trace.next_check(parcel, now)
    parcel.save()
    if signal:
        _announce(parcel, before, signal)


def _announce(parcel: Parcel, before: str, signal: str) -> None:
    change = Change(
        entity="parcel",
        object_id=parcel.pk,
        key=parcel.tid,
        status=trace.state(parcel),
        previous_status=before,
        modified=parcel.last_event_at or parcel.consigned_at,
        signals=(signal,),
    )
    record_changes(parcel.shop, [change])
