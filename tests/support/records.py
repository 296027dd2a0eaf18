"""Records for tests that need no sandbox: as the platform's APIs render them (``wire_*``),
or stored as the engine stores them (``make_*``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from trades.models import ReconcileReport, Refund, Trade, TradeLine

T0 = datetime(2026, 11, 11, 0, 0, 0, tzinfo=timezone.get_current_timezone())


def wire_trade(
    tid: int = 1,
    status: str = "WAIT_BUYER_PAY",
    modified: str = "2026-11-11 00:00:10",
    oids: tuple[int, ...] | None = None,
) -> dict:
    """A trade as ``trade.fullinfo.get`` returns it, with one sub-order per ``oids`` (one
    numbered like the trade without them)."""
    return {
        "tid": tid,
        "status": status,
        "type": "fixed",
        "created": "2026-11-11 00:00:00",
        "modified": modified,
        "payment": "10.50",
        "orders": [
            {"oid": oid, "status": status, "price": "10.50", "num": 1} for oid in oids or (tid,)
        ],
    }


def wire_shipped(
    tid: int,
    waybills: dict[str, tuple[int, ...]],
    consigned: str = "2026-11-11 10:00:00",
    modified: str = "2026-11-11 10:00:00",
) -> dict:
    """A trade whose sub-orders went out on ``waybills`` (waybill -> its sub-orders)."""
    oids = tuple(oid for group in waybills.values() for oid in group)
    trade = wire_trade(tid, "WAIT_BUYER_CONFIRM_GOODS", modified, oids)
    bill = {oid: out_sid for out_sid, group in waybills.items() for oid in group}
    for order in trade["orders"]:
        order.update(
            consign_time=consigned, logistics_company="圆通速递", invoice_no=bill[order["oid"]]
        )
    return trade


def make_trade(
    shop,
    tid: int,
    *,
    minutes: int = 0,
    status: str = "WAIT_SELLER_SEND_GOODS",
    lines: int = 2,
    **extra,
) -> Trade:
    at = T0 + timedelta(minutes=minutes)
    trade = Trade.objects.create(
        tenant_id=shop.tenant_id,
        shop=shop,
        tid=tid,
        status=status,
        type=extra.pop("type", "fixed"),
        created=extra.pop("created", at),
        modified=extra.pop("modified", at),
        payment=Decimal("99.50"),
        buyer_open_uid=extra.pop("buyer_open_uid", f"buyer-{tid % 3}"),
        payload={"tid": tid},
        **extra,
    )
    TradeLine.objects.bulk_create(
        TradeLine(trade=trade, oid=tid * 10 + n, title=f"item {n}", num=1, price=Decimal("49.75"))
        for n in range(lines)
    )
    return trade


def make_report(shop, day: str = "2026-11-11") -> ReconcileReport:
    return ReconcileReport.objects.create(
        tenant_id=shop.tenant_id,
        shop=shop,
        day=day,
        platform_count=10,
        local_count=9,
        missing_found=1,
        details={"missing": [1]},
    )


def make_refund(
    shop, refund_id: int, tid: int, *, minutes: int = 0, oid: int | None = None
) -> Refund:
    at = T0 + timedelta(minutes=minutes)
    return Refund.objects.create(
        tenant_id=shop.tenant_id,
        shop=shop,
        refund_id=refund_id,
        tid=tid,
        oid=tid * 10 if oid is None else oid,
        status="WAIT_SELLER_AGREE",
        refund_fee=Decimal("49.75"),
        created=at,
        modified=at,
        payload={"refund_id": refund_id},
    )


def presale(
    tid=1, stage="FRONT_NOPAID_FINAL_NOPAID", status="WAIT_BUYER_PAY", minute=0, sku="101", num=2
) -> dict:
    """A presale (step) trade as the platform renders it, at ``stage`` of its payments."""
    return {
        "tid": tid,
        "status": status,
        "type": "step",
        "step_trade_status": stage,
        "created": "2026-11-11 00:00:00",
        "modified": f"2026-11-11 00:{minute:02d}:00",
        "orders": [
            {"oid": tid, "status": status, "sku_id": sku, "outer_sku_id": f"OUT-{sku}", "num": num}
        ],
    }
