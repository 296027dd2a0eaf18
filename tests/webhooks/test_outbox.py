"""The outbox: events are written in the writer's transaction and fanned out by subscription."""

from __future__ import annotations

import pytest
from django.db import transaction

from shops.actions import mark_needs_reauth
from tests.support.records import wire_trade
from trades.models import ReconcileReport
from trades.sync.write import write_refunds, write_trades
from trades.webhooks.endpoints import create_endpoint, update_endpoint
from trades.webhooks.events import emit_found_missing
from trades.webhooks.models import WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db


def types() -> list[str]:
    return list(WebhookEvent.objects.order_by("id").values_list("type", flat=True))


def test_trade_changes_become_events_for_the_endpoint(shop_a, endpoint):
    write_trades(shop_a, [wire_trade()])
    write_trades(
        shop_a, [wire_trade(status="WAIT_SELLER_SEND_GOODS", modified="2026-11-11 01:00:00")]
    )
    write_trades(
        shop_a, [wire_trade(status="WAIT_SELLER_SEND_GOODS", modified="2026-11-11 02:00:00")]
    )
    assert types() == [
        "trade.created",
        "trade.updated",
        "trade.status_changed",
        "trade.updated",
    ]
    changed = WebhookEvent.objects.get(type="trade.status_changed")
    assert changed.data["tid"] == 1 and changed.data["shop"] == shop_a.pk
    assert changed.data["status"] == "WAIT_SELLER_SEND_GOODS"
    assert changed.data["previous_status"] == "WAIT_BUYER_PAY"
    assert changed.data["modified"].startswith("2026-11-10T17:00:00")  # 01:00 GMT+8, in UTC
    assert changed.tenant_id == shop_a.tenant_id and changed.shop_id == shop_a.pk
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert deliveries.count() == 4
    assert {d.state for d in deliveries} == {"pending"} and all(
        d.next_attempt_at for d in deliveries
    )


def test_refund_changes(shop_a, endpoint):
    refund = {
        "refund_id": 9,
        "tid": 1,
        "status": "WAIT_SELLER_AGREE",
        "created": "2026-11-11 00:00:00",
        "modified": "2026-11-11 00:10:00",
    }
    write_refunds(shop_a, [refund])
    write_refunds(shop_a, [{**refund, "status": "SUCCESS", "modified": "2026-11-11 00:20:00"}])
    assert types() == ["refund.created", "refund.updated"]
    assert WebhookEvent.objects.last().data["refund_id"] == 9


def test_only_subscribed_active_endpoints_of_the_tenant_get_deliveries(
    shop_a, shop_b, tenant_a, tenant_b, receiver
):
    wants_status = create_endpoint(tenant_a, receiver.url, ["trade.status_changed"]).endpoint
    disabled = create_endpoint(tenant_a, receiver.url, ["trade.created"]).endpoint
    update_endpoint(disabled, is_active=False)
    other_tenant = create_endpoint(tenant_b, receiver.url, ["trade.created"]).endpoint
    write_trades(shop_a, [wire_trade()])
    assert not WebhookEvent.objects.exists()  # nobody active in tenant A wants trade.created
    write_trades(shop_a, [wire_trade(status="TRADE_CLOSED", modified="2026-11-11 01:00:00")])
    assert types() == ["trade.status_changed"]
    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [wants_status.pk]
    write_trades(shop_b, [wire_trade(tid=2)])
    assert list(
        WebhookDelivery.objects.filter(tenant=tenant_b).values_list("endpoint", flat=True)
    ) == [other_tenant.pk]


class Boom(Exception):
    pass


def test_a_rolled_back_write_leaves_no_event(shop_a, endpoint):
    with pytest.raises(Boom), transaction.atomic():
        write_trades(shop_a, [wire_trade()])
        assert WebhookDelivery.objects.count() == 1  # written, inside the transaction
        raise Boom
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_deliveries_are_queued_only_after_the_commit(
    shop_a, endpoint, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        write_trades(shop_a, [wire_trade(tid=n) for n in range(1, 4)])
        assert queued == []
    assert len(callbacks) == 1
    (func, (ids, not_before)), *_ = queued
    assert func == "trades.webhooks.tasks.deliver_webhooks_task" and not_before is None
    assert sorted(ids) == sorted(WebhookDelivery.objects.values_list("pk", flat=True))


def test_queueing_is_batched(
    shop_a, endpoint, queued, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_BATCH_SIZE = 2
    with django_capture_on_commit_callbacks(execute=True):
        write_trades(shop_a, [wire_trade(tid=n) for n in range(1, 6)])
    assert [len(args[0]) for _, args in queued] == [2, 2, 1]


def test_shop_needs_reauth_is_an_event(shop_a, endpoint):
    mark_needs_reauth(shop_a, "session invalid (code 27)")
    mark_needs_reauth(shop_a, "again")  # already marked: no second event
    (event,) = WebhookEvent.objects.all()
    assert event.type == "shop.needs_reauth"
    assert event.data == {
        "shop": shop_a.pk,
        "seller_nick": "seller-a",
        "reason": "session invalid (code 27)",
    }


def test_reconcile_found_missing_is_an_event(shop_a, endpoint):
    report = ReconcileReport.objects.create(
        tenant_id=shop_a.tenant_id,
        shop=shop_a,
        day="2026-11-11",
        platform_count=3,
        local_count=1,
        missing_found=2,
        details={"missing": [5, 6], "stale": []},
    )
    with transaction.atomic():
        emit_found_missing(report)
    (event,) = WebhookEvent.objects.all()
    assert event.type == "reconcile.found_missing"
    assert event.data["tids"] == [5, 6] and event.data["missing_found"] == 2
