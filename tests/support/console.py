"""Rows the console shows: trades with lines and history, one row of every tenant-owned model."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from shops import audit
from shops.actions import ensure_checkpoints
from shops.models import Checkpoint, Membership, SyncRun
from trades.api.keys import create_api_key
from trades.feed.models import ChangeEvent
from trades.jdp.models import JdpRds, JdpShop, ShopChannels
from trades.logistics.models import StalledParcel
from trades.models import ReconcileReport, Refund, Trade, TradeLine
from trades.presale.models import PresaleReservation
from trades.replenish.models import Suggestion
from trades.replenish.suggest import settings_of
from trades.tmc.models import TmcShop
from trades.webhooks.endpoints import create_endpoint, send_test_event
from trades.webhooks.models import WebhookReplay

T0 = datetime(2026, 11, 11, 10, 0, 0, tzinfo=timezone.get_current_timezone())


def make_trade(shop, tid: int, *, minutes: int = 0, status: str = "WAIT_SELLER_SEND_GOODS"):
    at = T0 + timedelta(minutes=minutes)
    return Trade.objects.create(
        tenant_id=shop.tenant_id,
        shop=shop,
        tid=tid,
        status=status,
        type="fixed",
        created=at,
        modified=at,
        payload={"tid": tid, "status": status, "orders": {"order": [{"oid": tid, "title": "茶"}]}},
    )


def record_history(trade, versions: list[tuple[str | None, str, int]]) -> None:
    """Change-feed rows of ``trade``: (previous status, status, minutes after T0) each."""
    for previous, status, minutes in versions:
        ChangeEvent.objects.create(
            tenant_id=trade.tenant_id,
            shop_id=trade.shop_id,
            entity="trade",
            object_id=trade.pk,
            key=trade.tid,
            status=status,
            previous_status=previous,
            modified=T0 + timedelta(minutes=minutes),
        )


def bulk_trades(shop, first_tid: int, count: int) -> None:
    Trade.objects.bulk_create(
        Trade(
            tenant_id=shop.tenant_id,
            shop=shop,
            tid=first_tid + i,
            status="TRADE_FINISHED",
            created=T0 + timedelta(seconds=i),
            modified=T0 + timedelta(seconds=i),
            payload={"tid": first_tid + i},
        )
        for i in range(count)
    )


def one_of_each(shop, tid: int) -> dict:
    """One row of every tenant-owned model, for ``shop``'s tenant."""
    ensure_checkpoints(shop)
    trade = make_trade(shop, tid)
    TradeLine.objects.create(trade=trade, oid=tid, title="tea", num=1)
    refund = Refund.objects.create(
        tenant_id=shop.tenant_id,
        shop=shop,
        refund_id=tid * 10,
        tid=tid,
        oid=tid,
        status="WAIT_SELLER_AGREE",
        created=T0,
        modified=T0,
        payload={"refund_id": tid * 10},
    )
    run = SyncRun.objects.create(
        shop=shop,
        stream="trades",
        kind=SyncRun.Kind.INCREMENTAL,
        outcome=SyncRun.Outcome.FAILED,
        api_calls=3,
        trades_written=2,
        error_class="Transient",
        error_message="Traceback (most recent call last):\n  boom",
    )
    report = ReconcileReport.objects.create(
        tenant_id=shop.tenant_id,
        shop=shop,
        day=T0.date(),
        platform_count=3,
        local_count=2,
        missing_found=1,
        details={"missing": [tid + 1]},
    )
    endpoint = create_endpoint(
        shop.tenant, f"https://{shop.tenant.slug}.example/hook", ["trade.created"]
    )
    presale = make_trade(shop, tid + 5, status="WAIT_BUYER_PAY")
    Trade.objects.filter(pk=presale.pk).update(
        type="step", step_trade_status="FRONT_PAID_FINAL_NOPAID"
    )
    TradeLine.objects.create(trade=presale, oid=tid + 5, sku_id=f"sku-{tid}", num=2)
    return {
        **_stalled_parcel(shop, tid + 6),
        "tenant": shop.tenant,
        "membership": Membership.objects.filter(tenant=shop.tenant).first(),
        "shop": shop,
        "checkpoint": Checkpoint.objects.get(shop=shop, stream="trades"),
        "syncrun": run,
        "trade": trade,
        "refund": refund,
        "reconcilereport": report,
        "apikey": create_api_key(shop.tenant, f"key of {shop.tenant.slug}").key,
        "webhookendpoint": endpoint.endpoint,
        "webhookdelivery": send_test_event(endpoint.endpoint),
        "tmcshop": TmcShop.objects.create(shop=shop, permitted_at=T0),
        "presalereservation": PresaleReservation.objects.get(shop=shop),
        "jdpshop": JdpShop.objects.create(
            shop=shop, rds=JdpRds.objects.get_or_create(name="rds-1")[0], status=1
        ),
        "shopchannels": ShopChannels.objects.get(pk=shop.pk),
        "auditentry": audit.record(audit.Action.SHOP_PAUSED, target=shop),
        "suggestion": _suggestion(shop),
        "replenishsettings": settings_of(shop),
        "webhookreplay": WebhookReplay.objects.create(
            tenant_id=shop.tenant_id, endpoint=endpoint.endpoint, until=T0, tids=[tid]
        ),
    }


def _stalled_parcel(shop, tid: int) -> dict:
    """A parcel the carrier did not pick up: a raised stall (stored as the tracker stores it)."""
    trade = make_trade(shop, tid, status="WAIT_BUYER_CONFIRM_GOODS")
    parcel = StalledParcel.objects.create(
        tenant_id=shop.tenant_id,
        shop=shop,
        trade=trade,
        tid=tid,
        out_sid=f"YTO{tid}",
        company_name="圆通速递",
        events=[["2026-11-11 10:00:00", "卖家已发货", "CONSIGN"]],
        consigned_at=T0,
        last_event_at=T0,
        trade_modified=T0,
        next_check_at=T0 + timedelta(hours=30),
        stalled_at=T0 + timedelta(hours=24),
        stall="no_pickup",
    )
    return {"stalledparcel": parcel}


def _suggestion(shop) -> Suggestion:
    numbers = dict.fromkeys(("on_hand", "reserved", "available", "suggested_qty"), 3)
    decimals = dict.fromkeys(("forecast_7d", "demand", "band", "safety_stock"), 1)
    return Suggestion.objects.create(
        tenant_id=shop.tenant_id, shop=shop, sku_id=f"sku-{shop.pk}", cover_days=14,
        computed_at=T0, **numbers, **decimals,
    )  # fmt: skip
