"""API fixtures: a key per actor (owner A read_write, member A read, outsider B) and data."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from shops.models import Checkpoint, SyncRun
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.models import ReconcileReport, Refund, Trade, TradeLine

T0 = datetime(2026, 11, 11, 0, 0, 0, tzinfo=timezone.get_current_timezone())


def client_for(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def owner_client(tenant_a, alice) -> APIClient:
    issued = create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE, created_by=alice)
    return client_for(issued.token)


@pytest.fixture
def reader_client(tenant_a, bob) -> APIClient:
    issued = create_api_key(tenant_a, "BI", ApiKey.Scope.READ, created_by=bob)
    return client_for(issued.token)


@pytest.fixture
def outsider_client(tenant_b, charlie) -> APIClient:
    issued = create_api_key(tenant_b, "B's ERP", ApiKey.Scope.READ_WRITE, created_by=charlie)
    return client_for(issued.token)


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


@pytest.fixture
def data_a(shop_a):
    """Tenant A: 5 trades (one refunded), a checkpoint and two sync runs."""
    trades = [make_trade(shop_a, 1000 + n, minutes=n) for n in range(5)]
    refund = make_refund(shop_a, 7000, trades[0].tid, minutes=10)
    Checkpoint.objects.create(
        shop=shop_a, stream="trades", cursor=timezone.now() - timedelta(minutes=3)
    )
    runs = [
        SyncRun.objects.create(shop=shop_a, stream="trades", kind="incremental", outcome=outcome)
        for outcome in ("failed", "succeeded")
    ]
    report = make_report(shop_a)
    return {"shop": shop_a, "trades": trades, "refund": refund, "runs": runs, "report": report}


@pytest.fixture
def data_b(shop_b):
    """Tenant B: its own trade, refund and run, which tenant A must never see."""
    trade = make_trade(shop_b, 2000)
    refund = make_refund(shop_b, 8000, trade.tid)
    run = SyncRun.objects.create(shop=shop_b, stream="trades", kind="incremental")
    report = make_report(shop_b)
    return {"shop": shop_b, "trades": [trade], "refund": refund, "runs": [run], "report": report}
