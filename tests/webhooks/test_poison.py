"""A poisoned endpoint cannot hurt other tenants' deliveries, URLs that can never be requested
are refused at creation, and the address guard judges IPv6 forms by the IPv4 inside while
telling tenants only a generic reason."""

from __future__ import annotations

import pytest
import requests
from django.utils import timezone

from tests.support.api import client_for
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.webhooks import delivery as delivery_module
from trades.webhooks.delivery import connection_error
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.guard import is_public
from trades.webhooks.models import (
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from trades.webhooks.runner import deliver_batch

pytestmark = pytest.mark.django_db

PORT_OUT_OF_RANGE = "http://example.com:99999/hook"
NOT_IDNA = "http://" + "ü" * 60 + ".example/hook"  # its punycode label passes 63 characters
POISONED = [PORT_OUT_OF_RANGE, NOT_IDNA, "http://example.com:0/hook"]


def deliver_to(endpoint: WebhookEndpoint) -> WebhookDelivery:
    event = WebhookEvent.objects.create(
        tenant_id=endpoint.tenant_id, type=EventType.TEST, data={"message": "hi"}
    )
    return WebhookDelivery.objects.create(
        tenant_id=endpoint.tenant_id, endpoint=endpoint, event=event, next_attempt_at=timezone.now()
    )


@pytest.mark.parametrize("url", POISONED)
def test_a_poisoned_endpoint_fails_alone_and_others_are_delivered(
    url, tenant_a, tenant_b, receiver
):
    good = create_endpoint(tenant_b, receiver.url, ["trade.created"]).endpoint
    poisoned = create_endpoint(tenant_a, "https://example.com/", ["trade.created"]).endpoint
    WebhookEndpoint.objects.filter(pk=poisoned.pk).update(url=url)  # past the validation
    bad_delivery, good_delivery = deliver_to(poisoned), deliver_to(good)

    results = deliver_batch()

    assert len(results) == 2
    good_delivery.refresh_from_db()
    assert good_delivery.state == "succeeded" and len(receiver.received) == 1
    bad_delivery.refresh_from_db()
    assert bad_delivery.state == "pending" and bad_delivery.attempts == 1
    (attempt,) = WebhookAttempt.objects.filter(delivery=bad_delivery)
    assert attempt.outcome == "refused" and attempt.error.startswith("refused: the URL ")
    assert bad_delivery.last_error == attempt.error


def test_any_exception_of_one_delivery_is_its_own_attempt(
    tenant_a, tenant_b, receiver, monkeypatch
):
    good = create_endpoint(tenant_b, receiver.url, ["trade.created"]).endpoint
    broken = create_endpoint(tenant_a, receiver.url + "?broken", ["trade.created"]).endpoint
    real_check = delivery_module.check_url

    def check_url(url):
        if url.endswith("?broken"):
            raise RuntimeError("something nobody expected")
        real_check(url)

    monkeypatch.setattr(delivery_module, "check_url", check_url)
    bad_delivery, good_delivery = deliver_to(broken), deliver_to(good)

    deliver_batch()

    good_delivery.refresh_from_db()
    assert good_delivery.state == "succeeded"
    (attempt,) = WebhookAttempt.objects.filter(delivery=bad_delivery)
    assert attempt.outcome == "connection_error"
    assert attempt.error == "the request could not be made"


@pytest.fixture
def owner(tenant_a):
    return client_for(create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE).token)


@pytest.mark.parametrize(
    "url,message",
    [
        (PORT_OUT_OF_RANGE, "url has a port that is not a number from 1 to 65535"),
        ("http://example.com:0/", "url has a port that is not a number from 1 to 65535"),
        (NOT_IDNA, "url has a host name that cannot be IDNA-encoded"),
    ],
)
def test_the_api_refuses_urls_that_can_never_be_requested(owner, tenant_a, url, message):
    created = owner.post(
        "/api/v1/webhook-endpoints/", {"url": url, "event_types": ["trade.created"]}, "json"
    )
    assert created.status_code == 400
    assert created.json()["errors"] == {"url": [message]}
    endpoint = create_endpoint(tenant_a, "https://example.com/", ["trade.created"]).endpoint
    changed = owner.patch(f"/api/v1/webhook-endpoints/{endpoint.pk}/", {"url": url}, "json")
    assert changed.status_code == 400 and changed.json()["errors"] == {"url": [message]}
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == "https://example.com/"


@pytest.mark.parametrize("url", [PORT_OUT_OF_RANGE, NOT_IDNA])
def test_the_admin_form_refuses_urls_that_can_never_be_requested(client, alice, tenant_a, url):
    client.force_login(alice)
    response = client.post(
        "/admin/trades/webhookendpoint/add/",
        {"tenant": tenant_a.pk, "url": url, "event_types": ["trade.created"], "is_active": "on"},
    )
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors["url"]
    assert any(e.startswith("url has a ") for e in errors)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "address,public",
    [
        ("64:ff9b::10.0.0.1", False),  # NAT64 to a private address
        ("64:ff9b::127.0.0.1", False),
        ("64:ff9b::169.254.169.254", False),
        ("64:ff9b::8.8.8.8", True),  # NAT64 to a public one
        ("64:ff9b:1::a00:1", False),  # local-use NAT64
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("::ffff:0:10.0.0.1", False),  # SIIT
        ("::ffff:0:127.0.0.1", False),
        ("::10.0.0.1", False),  # IPv4-compatible
        ("::127.0.0.1", False),
        ("::169.254.169.254", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("::ffff:8.8.8.8", True),
        ("2001:0:a00:1::1", False),  # Teredo, server 10.0.0.1
        ("2001:0:808:808:0:ffff:f7f7:f7f7", True),  # Teredo, server and client 8.8.8.8
        ("2001:0:808:808:0:ffff:80ff:fffe", False),  # Teredo, client 127.0.0.1
        ("2606:4700:4700::1111", True),  # plain IPv6
    ],
)
def test_ipv6_forms_are_judged_by_the_ipv4_inside(address, public):
    assert is_public(address) is public


def test_a_refused_address_is_not_named_to_the_tenant(tenant_a, receiver, settings, caplog):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    endpoint = create_endpoint(tenant_a, "https://example.com/", ["trade.created"]).endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        url=receiver.url.replace("127.0.0.1", "localhost")
    )
    delivery = deliver_to(endpoint)

    (result,) = deliver_batch()

    assert result.outcome == "refused"
    assert result.error == "refused: the URL's host is not a public address"
    delivery.refresh_from_db()
    assert "127.0.0.1" not in delivery.last_error and "localhost" not in delivery.last_error
    assert "127.0.0.1" in caplog.text  # the operator still learns what was refused


def test_a_failed_connection_is_told_by_its_kind_only():
    failure = requests.ConnectionError(
        "HTTPConnectionPool(host='10.1.2.3', port=80): Max retries exceeded "
        "(Caused by NewConnectionError: [Errno 111] Connection refused)"
    )
    failure.__context__ = ConnectionRefusedError(111, "Connection refused")
    assert connection_error(failure) == "connection failed: connection refused"
    assert connection_error(requests.ConnectionError("db.internal:5432")) == "connection failed"


@pytest.mark.parametrize(
    "url", ["http://[64:ff9b::10.0.0.1]/", "http://[2002:a9fe:a9fe::1]/", "http://[::127.0.0.1]/"]
)
def test_literal_ipv6_embedding_a_private_ipv4_is_refused_at_creation(owner, url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    body = {"url": url, "event_types": ["trade.created"]}
    created = owner.post("/api/v1/webhook-endpoints/", body, "json")
    assert created.status_code == 400
    assert created.json()["errors"] == {
        "url": ["url must not point at a private, loopback or link-local address"]
    }
