"""Reconcile finds what the sync missed or holds stale, repairs it, and reports it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from trades.models import ReconcileReport, Trade
from trades.sync.backfill import backfill_shop
from trades.sync.reconcile import reconcile_shop
from trades.webhook_models import EventType, WebhookDelivery, WebhookEvent
from trades.webhooks.endpoints import create_endpoint

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


def test_a_reconcile_that_finds_missing_trades_emits_one_event_per_report(make_shop, gateway):
    shop = make_shop("found", history_trades=60, history_days=2)
    backfill_shop(shop, 3)
    endpoint = create_endpoint(
        shop.tenant, "https://erp.example/hook", [EventType.RECONCILE_FOUND_MISSING]
    ).endpoint
    recent = timezone.now() - timedelta(hours=20)
    lost = list(
        Trade.objects.filter(shop=shop, created__gte=recent)
        .order_by("tid")
        .values_list("tid", flat=True)[:2]
    )
    Trade.objects.filter(tid__in=lost).delete()

    reports = reconcile_shop(shop)
    found = [r for r in reports if r.missing_found]
    assert len(lost) == 2 and sum(r.missing_found for r in found) == 2
    events = WebhookEvent.objects.filter(type=EventType.RECONCILE_FOUND_MISSING)
    assert sorted(e.data["report"] for e in events) == sorted(r.pk for r in found)
    assert sorted(tid for e in events for tid in e.data["tids"]) == sorted(lost)
    assert all(e.shop_id == shop.pk and e.data["shop"] == shop.pk for e in events)
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert sorted(d.event_id for d in deliveries) == sorted(e.pk for e in events)
    # a clean reconcile emits nothing more
    reconcile_shop(shop)
    assert events.count() == len(found)
