"""API fixtures: a key per actor (owner A read_write, member A read, outsider B) and data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from shops.models import Checkpoint, SyncRun
from tests.support.api import client_for
from tests.support.records import make_refund, make_report, make_trade
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key


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
