"""Every event type the code emits reaches a receiver with the body the OpenAPI document
describes for it; a type the document lacks, or a body that strays from it, fails here."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction

from shops.actions import mark_needs_reauth
from tests.api.openapi_walk import document, problems
from tests.support.records import wire_shipped, wire_trade
from trades.logistics.models import Parcel
from trades.logistics.tracking import Tally, apply_trace, discover_parcels
from trades.models import ReconcileReport
from trades.sync.write import write_refunds, write_trades
from trades.webhooks.endpoints import send_test_event
from trades.webhooks.events import emit_found_missing
from trades.webhooks.models import EventType
from trades.webhooks.runner import deliver_batch

REFUND_ID = 2900000000000016885
CONSIGNED = {"status_time": "2026-11-11 10:00:00", "status_desc": "卖家已发货", "action": "CONSIGN"}
PICKED = {"status_time": "2026-11-12 15:00:00", "status_desc": "快件已揽收", "action": "GOT"}
REFUND = {
    "refund_id": REFUND_ID,
    "tid": 1,
    "oid": 1,
    "status": "WAIT_SELLER_AGREE",
    "refund_fee": "5.00",
    "created": "2026-11-11 00:00:00",
    "modified": "2026-11-11 00:10:00",
}


def _emit_every_kind(shop, endpoint) -> None:
    """Everything that makes events, through the code that does it in production."""
    write_trades(shop, [wire_trade(tid=3900000000000016884)])
    write_trades(
        shop,
        [wire_trade(3900000000000016884, "WAIT_SELLER_SEND_GOODS", "2026-11-11 00:01:00")],
    )
    for minute, stage in enumerate(
        ("FRONT_PAID_FINAL_NOPAID", "FRONT_PAID_FINAL_PAID", "FRONT_PAID_FRONT_FORFEITED")
    ):  # a presale trade's deposit, final payment; another's forfeit
        presale = wire_trade(2 + minute // 2, "WAIT_BUYER_PAY", f"2026-11-11 00:0{minute + 2}:00")
        write_trades(shop, [{**presale, "type": "step", "step_trade_status": stage}])
    write_trades(shop, [wire_shipped(5, {"YTO1": (5,)})])  # a parcel stalls, then moves
    discover_parcels(shop)
    parcel = Parcel.objects.get(shop=shop, out_sid="YTO1")
    later = parcel.consigned_at + timedelta(hours=30)
    apply_trace(parcel.pk, {"status": "卖家已发货", "trace_list": [CONSIGNED]}, later, Tally())
    apply_trace(
        parcel.pk, {"status": "快件已揽收", "trace_list": [CONSIGNED, PICKED]}, later, Tally()
    )
    write_refunds(shop, [REFUND])
    write_refunds(shop, [{**REFUND, "status": "SUCCESS", "modified": "2026-11-11 00:20:00"}])
    mark_needs_reauth(shop, "SessionInvalid: invalid-sessionkey")
    with transaction.atomic():  # as the reconcile saves its report
        report = ReconcileReport.objects.create(
            tenant_id=shop.tenant_id,
            shop=shop,
            day="2026-11-11",
            platform_count=2,
            local_count=1,
            missing_found=1,
            refunds_missing_found=1,
            details={"missing": [3900000000000016884], "refunds": {"missing": [REFUND_ID]}},
        )
        emit_found_missing(report)
    send_test_event(endpoint)


@pytest.mark.django_db
def test_every_emitted_event_matches_its_webhook_in_the_schema(shop_a, issued, receiver):
    _emit_every_kind(shop_a, issued.endpoint)
    while deliver_batch():
        pass
    doc = document()
    seen = set()
    for request in receiver.received:
        body = json.loads(request.body)
        seen.add(body["type"])
        assert body["type"] in doc["webhooks"], f"{body['type']} is not in the schema"
        described = doc["webhooks"][body["type"]]["post"]["requestBody"]
        schema = described["content"]["application/json"]["schema"]
        assert not problems(doc, schema, body), (body, problems(doc, schema, body))
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= {
            name.lower() for name in request.headers
        }
    # every type exists in the code for a reason: each one was made here
    assert seen == set(EventType.values)


@pytest.mark.django_db
def test_the_ids_a_reconcile_found_come_as_strings_too(shop_a, issued, receiver):
    _emit_every_kind(shop_a, issued.endpoint)
    while deliver_batch():
        pass
    (found,) = [
        json.loads(r.body)["data"]
        for r in receiver.received
        if json.loads(r.body)["type"] == EventType.RECONCILE_FOUND_MISSING
    ]
    assert found["tids_str"] == ["3900000000000016884"]
    assert found["refund_ids_str"] == [str(REFUND_ID)]
