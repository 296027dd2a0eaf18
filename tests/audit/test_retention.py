"""Retention: old rows go in batches, never a change an active consumer has not read nor an
event still to be delivered; buyer data of a shop that lost its authorization is erased after
the grace period, and the erasure is in the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from shops.actions import mark_needs_reauth, onboard_shop
from shops.audit.models import AuditEntry
from shops.models import Shop, SyncRun
from tests.api.test_feed import change
from tests.support.api import client_for
from tests.support.records import make_refund, make_report, make_trade
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key, revoke_api_key
from trades.feed.changes import BIGINT_MAX, record_changes
from trades.feed.models import ChangeEvent
from trades.jdp.models import JdpFinding
from trades.models import ReconcileReport, Refund, Trade
from trades.retention import guard, prune
from trades.retention.erase import erase_due
from trades.retention.models import RetentionRun
from trades.retention.run import run_retention
from trades.webhooks.models import (
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

pytestmark = pytest.mark.django_db(transaction=True)
LONG_AGO = timedelta(days=400)


def write_changes(shop, *keys) -> None:
    """One transaction per change: one feed position each."""
    for key in keys:
        with transaction.atomic():
            record_changes(shop, [change(key)])


def age_everything() -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE trades_changeevent SET created_at = now() - interval '400 days'")


def read_all(client, cursor=None, limit=2) -> tuple[list[int], str | None]:
    """Read the feed to its end ``limit`` at a time; return the keys and the last cursor."""
    keys = []
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/changes/", params).json()
        keys += [row["key"] - 10_000 for row in page["results"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return keys, cursor


def slow_consumer_after_pruning(shop, tenant) -> tuple[list[int], list[int]]:
    """Ten changes; a fast reader reads them all, a slow one the first three. Everything is
    old; the feed is pruned. Returns (what the slow reader gets next, what it should get)."""
    fast = client_for(create_api_key(tenant, "fast", ApiKey.Scope.READ).token)
    slow = client_for(create_api_key(tenant, "slow", ApiKey.Scope.READ).token)
    write_changes(shop, *range(1, 11))
    read_all(fast)
    page = slow.get("/api/v1/changes/", {"limit": 3}).json()
    assert [row["key"] - 10_000 for row in page["results"]] == [1, 2, 3]
    age_everything()
    prune.prune_feed(timezone.now() - timedelta(days=30), limit=2)
    rest, _ = read_all(slow, page["next_cursor"])
    return rest, list(range(4, 11))


def test_pruning_keeps_what_the_slowest_active_consumer_has_not_read(shop_a, tenant_a):
    rest, expected = slow_consumer_after_pruning(shop_a, tenant_a)
    assert rest == expected
    # what both had read is gone (in batches of 2) but for the commit the slow one stands on
    kept = sorted(key - 10_000 for key in ChangeEvent.objects.values_list("key", flat=True))
    assert kept == [3, *expected]


def test_without_the_guard_the_slow_consumer_loses_changes(shop_a, tenant_a, monkeypatch):
    """The check above can fail: with the guard switched off the same run deletes changes
    the slow consumer never read."""
    monkeypatch.setattr(guard, "first_unread_position", lambda tenant: BIGINT_MAX)
    monkeypatch.setattr(prune, "first_unread_position", lambda tenant: BIGINT_MAX)
    rest, expected = slow_consumer_after_pruning(shop_a, tenant_a)
    assert rest != expected and rest == []


def test_a_revoked_keys_position_holds_nothing_back(shop_a, tenant_a):
    gone = create_api_key(tenant_a, "old ERP", ApiKey.Scope.READ)
    client_for(gone.token).get("/api/v1/changes/", {"limit": 1})
    write_changes(shop_a, 1, 2, 3)
    revoke_api_key(gone.key)
    age_everything()
    assert prune.prune_feed(timezone.now() - timedelta(days=30), limit=100) == 3


def test_young_changes_stay_whoever_has_read_them(shop_a, tenant_a):
    reader = client_for(create_api_key(tenant_a, "ERP", ApiKey.Scope.READ).token)
    write_changes(shop_a, 1, 2)
    read_all(reader)
    assert prune.prune_feed(timezone.now() - timedelta(days=30), limit=100) == 0
    assert ChangeEvent.objects.count() == 2


def _event(tenant, endpoint, state: str, attempt_age: timedelta = LONG_AGO) -> WebhookEvent:
    event = WebhookEvent.objects.create(tenant=tenant, type=EventType.TRADE_UPDATED)
    WebhookEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - LONG_AGO)
    delivery = WebhookDelivery.objects.create(
        tenant=tenant, endpoint=endpoint, event=event, state=state
    )
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=timezone.now() - attempt_age,
        duration_ms=5,
        outcome="http_error" if state != "succeeded" else "success",
    )
    return event


def test_undelivered_webhook_events_stay(tenant_a):
    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant_a, url="https://erp.example.com/h", event_types=["trade.updated"]
    )
    done = _event(tenant_a, endpoint, "succeeded")
    pending = _event(tenant_a, endpoint, "pending")
    given_up = _event(tenant_a, endpoint, "failed")
    cutoff = timezone.now() - timedelta(days=30)
    assert prune.prune_webhook_events(cutoff, limit=1) == 1
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {pending.pk, given_up.pk}
    assert not WebhookDelivery.objects.filter(event=done).exists()
    # attempts of finished deliveries go by their own age; a pending delivery keeps its log
    assert prune.prune_webhook_attempts(cutoff, limit=1) == 1
    assert list(WebhookAttempt.objects.values_list("delivery__event", flat=True)) == [pending.pk]


def test_runs_and_reports_go_by_age_but_not_a_running_run(shop_a):
    old = timezone.now() - LONG_AGO
    for outcome in ("succeeded", "failed", "running"):
        run = SyncRun.objects.create(shop=shop_a, stream="trades", kind="incremental")
        SyncRun.objects.filter(pk=run.pk).update(started_at=old, outcome=outcome)
    SyncRun.objects.create(shop=shop_a, stream="trades", kind="incremental", outcome="succeeded")
    report = make_report(shop_a)
    ReconcileReport.objects.filter(pk=report.pk).update(created_at=old)
    make_report(shop_a, "2026-11-12")
    cutoff = timezone.now() - timedelta(days=30)
    assert prune.prune_sync_runs(cutoff, limit=1) == 2
    assert sorted(SyncRun.objects.values_list("outcome", flat=True)) == ["running", "succeeded"]
    assert prune.prune_reconcile_reports(cutoff, limit=1) == 1
    assert ReconcileReport.objects.count() == 1


def _finding(shop, key: int, outcome: str, found_at) -> None:
    finding = JdpFinding.objects.create(
        shop=shop, entity="trade", key=key, modified=timezone.now(), channel="polling"
    )
    JdpFinding.objects.filter(pk=finding.pk).update(outcome=outcome, found_at=found_at)


def test_jdp_findings_go_by_age_whatever_their_outcome(shop_a, shop_b):
    old = timezone.now() - LONG_AGO
    for key, outcome in enumerate(("pending", "in_time", "late", "missed")):
        _finding(shop_a, key, outcome, old)
    _finding(shop_b, 9, "missed", old)
    _finding(shop_a, 10, "missed", timezone.now())
    cutoff = timezone.now() - timedelta(days=90)
    assert prune.prune_jdp_findings(cutoff, limit=2) == 5
    assert list(JdpFinding.objects.values_list("key", flat=True)) == [10]


@override_settings(RETENTION_JDP_FINDING_DAYS=0)
def test_jdp_findings_are_all_kept_with_an_age_of_0(shop_a):
    _finding(shop_a, 1, "late", timezone.now() - LONG_AGO)
    run_retention()
    assert "jdp_findings" not in RetentionRun.objects.get().removed
    assert JdpFinding.objects.count() == 1


def _buyer_trade(shop, tid):
    trade = make_trade(shop, tid, buyer_nick="王小明", receiver_city="杭州市")
    payload = {"tid": tid, "buyer_nick": "王小明", "receiver_mobile": "138****0000", "oaid": "x"}
    Trade.objects.filter(pk=trade.pk).update(payload=payload)


def test_buyer_data_is_erased_after_the_grace_period_and_audited(shop_a, shop_b):
    for tid in (1, 2, 3):
        _buyer_trade(shop_a, tid)
    _buyer_trade(shop_b, 9)
    refund = make_refund(shop_a, 77, 1)
    personal = {"refund_id": 77, "buyer_nick": "王小明", "desc": "坏了", "reason": "质量"}
    Refund.objects.filter(pk=refund.pk).update(payload=personal)
    mark_needs_reauth(shop_a, "taobao_top_AuthCancel: the seller revoked the app")
    grace = timedelta(days=30)
    assert erase_due(grace, limit=2) == 0  # within the grace period: the seller may come back

    Shop.objects.filter(pk=shop_a.pk).update(authorization_lost_at=timezone.now() - LONG_AGO)
    assert erase_due(grace, limit=2) == 1
    erased = Trade.objects.get(shop=shop_a, tid=1)
    assert (erased.buyer_nick, erased.receiver_city, erased.buyer_open_uid) == ("", "", "")
    assert erased.payload == {"tid": 1} and erased.status == "WAIT_SELLER_SEND_GOODS"
    assert Refund.objects.get(refund_id=77).payload == {"refund_id": 77, "reason": "质量"}
    assert Trade.objects.get(shop=shop_b).buyer_nick == "王小明"  # another shop: untouched
    entry = AuditEntry.objects.get(action="shop.buyer_data_erased")
    assert entry.tenant_id == shop_a.tenant_id and entry.details["trades"] == 3
    assert entry.actor_kind == "system"
    assert erase_due(grace, limit=2) == 0  # once


def test_a_shop_authorized_again_keeps_its_buyer_data(shop_a):
    _buyer_trade(shop_a, 1)
    mark_needs_reauth(shop_a, "the session expired and cannot be refreshed")
    onboard_shop(
        tenant=shop_a.tenant,
        app=shop_a.app,
        seller_nick=shop_a.seller_nick,
        seller_id=shop_a.seller_id,
        session_key="new",
        backfill=False,
    )
    Shop.objects.filter(pk=shop_a.pk).update(created=timezone.now() - LONG_AGO)
    assert erase_due(timedelta(0), limit=10) == 0
    assert Trade.objects.get(shop=shop_a).buyer_nick == "王小明"


@override_settings(RETENTION_BATCH_SIZE=2, RETENTION_SYNC_RUN_DAYS=0)
def test_the_job_records_its_progress_and_outcome(shop_a):
    old = timezone.now() - LONG_AGO
    for _ in range(5):
        report = make_report(shop_a)
        ReconcileReport.objects.filter(pk=report.pk).update(created_at=old)
    run = SyncRun.objects.create(shop=shop_a, stream="trades", kind="incremental")
    SyncRun.objects.filter(pk=run.pk).update(started_at=old, outcome="succeeded")

    run_retention()

    stored = RetentionRun.objects.get()
    assert stored.outcome == "succeeded" and stored.finished_at is not None
    assert stored.removed["reconcile_reports"] == 5
    assert stored.removed["jdp_findings"] == 0
    assert "sync_runs" not in stored.removed and SyncRun.objects.count() == 1  # 0 keeps all


def test_a_failing_part_is_recorded_as_the_runs_outcome(shop_a, monkeypatch):
    from trades.retention import run as job

    def broken(cutoff, limit):
        raise RuntimeError("disk full")

    monkeypatch.setitem(job.PARTS, "sync_runs", ("RETENTION_SYNC_RUN_DAYS", broken))
    with pytest.raises(RuntimeError):
        run_retention()
    stored = RetentionRun.objects.get()
    assert stored.outcome == "failed" and stored.error == "RuntimeError: disk full"
    assert "change_events" in stored.removed  # the parts before it are counted


def test_the_daily_schedule_runs_the_task():
    import inspect
    from importlib import import_module

    from django.utils.module_loading import import_string

    migration = import_module("trades.migrations.0024_retention_schedule")
    assert migration.NAME == "retention"
    func = '"func": "trades.tasks.retention_task", "schedule_type": "D"'
    assert func in inspect.getsource(migration)
    assert import_string("trades.tasks.retention_task")() == RetentionRun.objects.get().removed
