"""Webhook endpoints and deliveries through the API, with the three actors: A's owner key
(read_write), A's read-only key, and B's key (an outsider)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.api import client_for
from tests.support.records import wire_trade
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.sync.write import write_trades
from trades.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookSecret
from trades.webhooks.runner import deliver_batch, sweep_webhooks
from trades.webhooks.signing import verify_signature

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhook-endpoints/"


@pytest.fixture
def owner(tenant_a):
    return client_for(create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE).token)


@pytest.fixture
def reader(tenant_a):
    return client_for(create_api_key(tenant_a, "BI", ApiKey.Scope.READ).token)


@pytest.fixture
def outsider(tenant_b):
    return client_for(create_api_key(tenant_b, "B", ApiKey.Scope.READ_WRITE).token)


def create(client, receiver, **extra):
    body = {"url": receiver.url, "event_types": ["trade.created"], **extra}
    return client.post(URL, body, "json")


def test_owner_creates_an_endpoint_and_sees_the_secret_once(owner, receiver, tenant_a):
    response = create(owner, receiver, description="ERP")
    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["is_active"] is True
    assert body["event_types"] == ["trade.created"] and body["secrets_expire_at"] == [None]
    stored = WebhookSecret.objects.get(endpoint_id=body["id"])
    assert stored.secret == body["secret"]
    from django.db import connection

    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT secret FROM trades_webhooksecret WHERE id = %s", [stored.pk])
        assert body["secret"] not in cursor.fetchone()[0]
    detail = owner.get(f"{URL}{body['id']}/").json()
    assert "secret" not in detail and detail["url"] == receiver.url


@pytest.mark.parametrize(
    "change,field",
    [
        ({"url": "ftp://example.com/"}, "url"),
        ({"event_types": ["trade.deleted"]}, "event_types"),
        ({"event_types": []}, "event_types"),
    ],
)
def test_invalid_endpoints_are_400(owner, receiver, change, field):
    response = create(owner, receiver, **change)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_private_urls_are_refused_when_not_allowed(owner, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    body = {"url": "http://169.254.169.254/latest", "event_types": ["trade.created"]}
    response = owner.post(URL, body, "json")
    assert response.status_code == 400 and "url" in response.json()["errors"]


def test_reader_lists_but_cannot_write(owner, reader, receiver):
    endpoint_id = create(owner, receiver).json()["id"]
    assert [e["id"] for e in reader.get(URL).json()["results"]] == [endpoint_id]
    assert create(reader, receiver).status_code == 403
    assert reader.patch(f"{URL}{endpoint_id}/", {"description": "x"}, "json").status_code == 403
    assert reader.delete(f"{URL}{endpoint_id}/").status_code == 403
    assert reader.post(f"{URL}{endpoint_id}/rotate-secret/", {}, "json").status_code == 403
    assert reader.post(f"{URL}{endpoint_id}/test/").status_code == 403


def test_another_tenants_endpoints_are_not_found(owner, outsider, receiver):
    endpoint_id = create(owner, receiver).json()["id"]
    assert outsider.get(URL).json()["results"] == []
    for method, path, body in [
        ("get", f"{URL}{endpoint_id}/", None),
        ("patch", f"{URL}{endpoint_id}/", {"description": "mine now"}),
        ("delete", f"{URL}{endpoint_id}/", None),
        ("post", f"{URL}{endpoint_id}/rotate-secret/", {}),
        ("post", f"{URL}{endpoint_id}/test/", None),
    ]:
        response = getattr(outsider, method)(path, body, "json")
        assert response.status_code == 404, (method, path)
    assert WebhookEndpoint.objects.get(pk=endpoint_id).description == ""


def test_update_disable_enable_and_delete(owner, receiver):
    endpoint_id = create(owner, receiver).json()["id"]
    path = f"{URL}{endpoint_id}/"
    body = owner.patch(path, {"is_active": False, "event_types": ["refund.created"]}, "json")
    assert body.status_code == 200
    assert body.json()["is_active"] is False and body.json()["disabled_reason"]
    assert body.json()["event_types"] == ["refund.created"]
    body = owner.patch(path, {"is_active": True}, "json").json()
    assert body["is_active"] is True and body["disabled_reason"] == ""
    assert owner.delete(path).status_code == 204
    assert owner.get(path).status_code == 404


def test_rotating_keeps_the_old_secret_for_the_overlap(owner, receiver, shop_a):
    created = create(owner, receiver).json()
    path = f"{URL}{created['id']}/rotate-secret/"
    rotated = owner.post(path, {"overlap_seconds": 3600}, "json")
    assert rotated.status_code == 201
    body = rotated.json()
    assert body["secret"] != created["secret"]
    assert body["secrets_expire_at"][0] is None and body["secrets_expire_at"][1] is not None
    write_trades(shop_a, [wire_trade()])
    deliver_batch()
    (got,) = receiver.received
    verify_signature([created["secret"]], got.headers, got.body)
    verify_signature([body["secret"]], got.headers, got.body)
    assert owner.post(path, {"overlap_seconds": -1}, "json").status_code == 400


def test_test_event_reaches_the_endpoint(owner, receiver):
    created = create(owner, receiver).json()
    response = owner.post(f"{URL}{created['id']}/test/")
    assert response.status_code == 202 and response.json()["event_type"] == "webhook.test"
    sweep_webhooks(seconds=10)
    (got,) = receiver.received
    verify_signature([created["secret"]], got.headers, got.body)


def test_deliveries_list_detail_and_isolation(owner, reader, outsider, receiver, shop_a):
    created = create(owner, receiver).json()
    receiver.behaviour.status = 500
    write_trades(shop_a, [wire_trade(tid=n) for n in (1, 2)])
    deliver_batch()
    listed = reader.get("/api/v1/webhook-deliveries/", {"endpoint": created["id"]}).json()
    assert len(listed["results"]) == 2 and listed["results"][0]["state"] == "pending"
    assert listed["results"][0]["event_type"] == "trade.created"
    delivery_id = listed["results"][0]["id"]
    detail = reader.get(f"/api/v1/webhook-deliveries/{delivery_id}/").json()
    assert detail["log"][0]["status_code"] == 500 and detail["log"][0]["outcome"] == "http_error"
    assert detail["data"]["tid"] in (1, 2)
    assert reader.get("/api/v1/webhook-deliveries/", {"state": "succeeded"}).json() == {
        "results": [],
        "next_cursor": None,
        "has_more": False,
    }
    assert outsider.get("/api/v1/webhook-deliveries/").json()["results"] == []
    assert outsider.get(f"/api/v1/webhook-deliveries/{delivery_id}/").status_code == 404
    redeliver = f"/api/v1/webhook-deliveries/{delivery_id}/redeliver/"
    assert outsider.post(redeliver).status_code == 404
    assert reader.post(redeliver).status_code == 403


def test_redeliver_one_and_a_range(owner, receiver, shop_a):
    created = create(owner, receiver).json()
    write_trades(shop_a, [wire_trade(tid=n) for n in (1, 2, 3)])
    sweep_webhooks(seconds=10)
    assert len(receiver.received) == 3
    first = WebhookDelivery.objects.order_by("id").first()
    response = owner.post(f"/api/v1/webhook-deliveries/{first.pk}/redeliver/")
    assert response.status_code == 202 and response.json() == {"redelivered": 1, "next_after": None}
    sweep_webhooks(seconds=10)
    assert len(receiver.received) == 4
    assert receiver.received[3].headers["webhook-id"] == first.event.public_id  # the same id

    now = timezone.now()
    body = {
        "endpoint": created["id"],
        "created_after": (now - timedelta(hours=1)).isoformat(),
        "created_before": (now + timedelta(hours=1)).isoformat(),
        "state": "succeeded",
    }
    response = owner.post("/api/v1/webhook-deliveries/redeliver/", body, "json")
    assert response.status_code == 202 and response.json() == {"redelivered": 3, "next_after": None}
    sweep_webhooks(seconds=10)
    assert len(receiver.received) == 7


def test_redeliver_range_of_another_tenants_endpoint_is_404(owner, outsider, receiver):
    created = create(owner, receiver).json()
    now = timezone.now()
    body = {
        "endpoint": created["id"],
        "created_after": (now - timedelta(hours=1)).isoformat(),
        "created_before": now.isoformat(),
    }
    response = outsider.post("/api/v1/webhook-deliveries/redeliver/", body, "json")
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["webhook-endpoints", "webhook-deliveries"])
def test_no_key_is_401(client, path):
    assert client.get(f"/api/v1/{path}/").status_code == 401
