"""Reconcile finds what the sync missed or holds stale, repairs it, and reports it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from trades.models import ReconcileReport, Trade
from trades.sync.backfill import backfill_shop
from trades.sync.reconcile import reconcile_shop

pytestmark = pytest.mark.django_db(transaction=True)


def test_nothing_missing_is_the_normal_result(make_shop, gateway):
    shop = make_shop("clean", history_trades=120, history_days=2)
    backfill_shop(shop, 3)
    reports = reconcile_shop(shop)
    assert [r.missing_found for r in reports] == [0, 0]
    assert [r.stale_fixed for r in reports] == [0, 0]
    assert all(r.platform_count == r.local_count for r in reports)
    assert ReconcileReport.objects.filter(shop=shop).count() == 2


def test_missing_and_stale_trades_are_found_and_repaired(make_shop, gateway):
    shop = make_shop("holes", history_trades=120, history_days=2)
    backfill_shop(shop, 3)
    recent = timezone.now() - timedelta(hours=20)  # yesterday or today, what reconcile covers
    local = Trade.objects.filter(shop=shop, created__gte=recent).order_by("tid")
    lost = list(local.values_list("tid", flat=True)[:3])
    stale = local.exclude(tid__in=lost).first()
    truth = (stale.status, stale.modified)
    Trade.objects.filter(tid__in=lost).delete()
    Trade.objects.filter(pk=stale.pk).update(
        status="WAIT_BUYER_PAY", modified=stale.modified.replace(year=2000)
    )

    reports = reconcile_shop(shop)
    assert sum(r.missing_found for r in reports) == 3
    assert sum(r.stale_fixed for r in reports) == 1
    assert sorted(tid for r in reports for tid in r.details["missing"]) == sorted(lost)
    assert set(Trade.objects.filter(shop=shop).values_list("tid", flat=True)) >= set(lost)
    stale.refresh_from_db()
    assert (stale.status, stale.modified) == truth
    assert [r.missing_found for r in reconcile_shop(shop)] == [0, 0]  # and it stays repaired
