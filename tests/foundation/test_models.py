"""Model constraints hold in the database, not only in forms."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from shops.models import Checkpoint, Membership, Shop, TopApp
from trades.models import Refund, Trade, TradeLine


def violates(create) -> bool:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


def make_trade(shop, tid=1, **kw):
    now = timezone.now()
    return Trade.objects.create(
        tenant=shop.tenant,
        shop=shop,
        tid=tid,
        status="WAIT_BUYER_PAY",
        created=now,
        modified=now,
        **kw,
    )


def test_one_shop_per_app_and_seller(shop_a, tenant_b, top_app):
    assert violates(
        lambda: Shop.objects.create(tenant=tenant_b, app=top_app, seller_nick="x", seller_id=1001)
    )


def test_one_membership_per_user_and_tenant(alice, tenant_a):
    assert violates(lambda: Membership.objects.create(user=alice, tenant=tenant_a, role="viewer"))


def test_app_budget_must_be_positive(db):
    assert violates(
        lambda: TopApp.objects.create(name="a", app_key="k", app_secret="s", calls_per_minute=0)
    )


def test_shop_interval_between_1_and_30_minutes(shop_a):
    shop_a.interval_minutes = 31
    assert violates(shop_a.save)
    shop_a.interval_minutes = 30
    shop_a.save()


def test_one_checkpoint_per_shop_stream(shop_a):
    Checkpoint.objects.create(shop=shop_a, stream="trades")
    assert violates(lambda: Checkpoint.objects.create(shop=shop_a, stream="trades"))
    Checkpoint.objects.create(shop=shop_a, stream="refunds")


def test_trade_unique_per_shop_and_tid_and_big_tids_are_exact(shop_a, shop_b):
    big = 2**62 + 1
    make_trade(shop_a, tid=big)
    assert violates(lambda: make_trade(shop_a, tid=big))
    make_trade(shop_b, tid=big)  # another shop may have the same tid
    assert Trade.objects.get(shop=shop_a).tid == big


def test_trade_line_unique_per_trade_and_oid(shop_a):
    trade = make_trade(shop_a)
    TradeLine.objects.create(trade=trade, oid=7)
    assert violates(lambda: TradeLine.objects.create(trade=trade, oid=7))


def test_refund_unique_per_shop(shop_a):
    now = timezone.now()

    def create():
        return Refund.objects.create(
            tenant=shop_a.tenant,
            shop=shop_a,
            refund_id=9,
            tid=1,
            status="WAIT_SELLER_AGREE",
            created=now,
            modified=now,
        )

    create()
    assert violates(create)


@pytest.mark.parametrize("model", [Trade, Refund])
def test_for_tenant_scopes_rows(model, shop_a, shop_b):
    assert model.objects.for_tenant(shop_a.tenant).query.where is not None
    assert str(model.objects.for_tenant(shop_a.tenant).query).count("tenant_id") >= 1
