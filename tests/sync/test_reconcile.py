"""Reconcile finds what the sync missed or holds stale, repairs it, and reports it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from trades.models import ReconcileReport, Trade
from trades.sync.backfill import backfill_shop
from trades.sync.reconcile import reconcile_shop
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import EventType, WebhookDelivery, WebhookEvent

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


def _shop_client(shop, **kw):
    from ordersync.taobao.store import client_for
    from shops.top import app_credentials

    return client_for(app_credentials(shop.app), calls_per_minute=100000, **kw)


def test_a_failed_day_is_recorded_and_backs_off_and_the_other_day_still_runs(
    make_shop, gateway, settings
):
    from shops.models import Checkpoint, SyncRun

    settings.TOP_MAX_ATTEMPTS = 1
    shop = make_shop("flaky", history_trades=60, history_days=2)
    backfill_shop(shop, 3)

    def heal(record) -> None:  # yesterday's first call fails, then the platform is well
        if record.outcome != "ok":
            gateway.faults(isp_rate=0.0)

    client = _shop_client(shop, on_call=heal)
    client.clock.now()  # the clock is measured before the fault
    gateway.faults(isp_rate=1.0)
    reports = reconcile_shop(shop, client=client)

    today = client.clock.now().astimezone(_tz()).date()
    assert [r.day for r in reports] == [today]  # today was reconciled after yesterday failed
    runs = SyncRun.objects.filter(shop=shop, kind=SyncRun.Kind.RECONCILE).order_by("pk")
    assert [(r.outcome, r.error_class) for r in runs] == [
        ("failed", "Transient"),
        ("succeeded", ""),
    ]
    checkpoint = Checkpoint.objects.get(shop=shop, stream="reconcile")
    assert checkpoint.consecutive_failures == 1 and "Transient" in checkpoint.last_error
    assert checkpoint.next_run_at > timezone.now()  # backs off before the next attempt

    assert len(reconcile_shop(shop)) == 2
    checkpoint.refresh_from_db()
    assert checkpoint.consecutive_failures == 0 and checkpoint.next_run_at is None


def test_an_invalid_session_during_reconcile_marks_the_shop(make_shop):
    from shops.models import Shop, SyncRun

    shop = make_shop("reauth")
    Shop.objects.filter(pk=shop.pk).update(session_key="not-a-session")
    shop.refresh_from_db()
    assert reconcile_shop(shop) == []
    shop.refresh_from_db()
    assert shop.status == Shop.Status.NEEDS_REAUTH
    (run,) = SyncRun.objects.filter(shop=shop, kind=SyncRun.Kind.RECONCILE)
    assert run.outcome == "failed" and run.error_class == "SessionInvalid"


def test_a_second_reconcile_of_a_shop_leaves_while_one_runs(make_shop, gateway):
    import psycopg
    from django.db import connection

    from shops.models import Checkpoint, SyncRun
    from trades.sync.locks import RUN_LOCK

    shop = make_shop("twice", history_trades=20, history_days=1)
    checkpoint, _ = Checkpoint.objects.get_or_create(shop=shop, stream="reconcile")
    params = connection.get_connection_params()
    keys = ("dbname", "user", "host", "port")
    with psycopg.connect(**{k: params[k] for k in keys if params.get(k)}) as other:
        # another worker's reconcile of this shop holds the lock
        other.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK, checkpoint.pk])
        assert reconcile_shop(shop) == []
    (run,) = SyncRun.objects.filter(shop=shop, kind=SyncRun.Kind.RECONCILE)
    assert run.outcome == "skipped" and run.api_calls == 0
    assert not ReconcileReport.objects.filter(shop=shop).exists()
    assert len(reconcile_shop(shop)) == 2  # once the other is gone, it runs


def test_a_trade_the_platform_cannot_find_is_not_counted_as_found(make_shop, gateway):
    shop = make_shop("gone", history_trades=60, history_days=2)
    backfill_shop(shop, 3)
    recent = timezone.now() - timedelta(hours=20)
    lost = list(
        Trade.objects.filter(shop=shop, created__gte=recent).values_list("tid", flat=True)[:2]
    )
    Trade.objects.filter(tid__in=lost).delete()
    gateway.faults(hidden_tids=[str(lost[0])])  # listed, but fullinfo says it does not exist

    reports = reconcile_shop(shop)

    assert sum(r.missing_found for r in reports) == 1
    # named by each day's report that lists it (its created day, and its modified day)
    assert {tid for r in reports for tid in r.details["not_found"]} == {lost[0]}
    assert Trade.objects.filter(tid=lost[1]).exists()


def _tz():
    from ordersync.taobao.types import PLATFORM_TZ

    return PLATFORM_TZ


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
