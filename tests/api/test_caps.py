"""Per-tenant caps on what all tenants share: API keys, webhook endpoints, test events, shop
jobs and redeliveries. Over a cap a tenant gets 409 or 429 naming it; other tenants do not
notice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shops.jobs import job_finished
from shops.models import Checkpoint, JobRequest
from tests.support.api import client_for
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import EventType, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db
ENDPOINTS = "/api/v1/webhook-endpoints/"
HOOK = "https://example.com/hook"


@pytest.fixture
def owner(tenant_a):
    return client_for(create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE).token)


@pytest.fixture
def outsider(tenant_b):
    return client_for(create_api_key(tenant_b, "B", ApiKey.Scope.READ_WRITE).token)


@pytest.fixture(autouse=True)
def queued(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kwargs: calls.append((func, args))
    )
    monkeypatch.setattr(
        "shops.jobs.async_task", lambda func, *args, **kwargs: calls.append((func, args)) or "t"
    )
    return calls


def refused(response, status: int, cap: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == "cap_reached" and f"(cap: {cap})" in body["detail"]


def test_api_keys_are_capped_per_tenant(owner, outsider, settings):
    settings.TENANT_MAX_API_KEYS = 3  # the owner's own key is one
    keys = [owner.post("/api/v1/api-keys/", {"name": f"k{i}"}, "json") for i in range(2)]
    assert [r.status_code for r in keys] == [201, 201]
    refused(owner.post("/api/v1/api-keys/", {"name": "k3"}, "json"), 409, "TENANT_MAX_API_KEYS")
    assert outsider.post("/api/v1/api-keys/", {"name": "b2"}, "json").status_code == 201
    # a rotation replaces a key: allowed at the cap
    rotated = owner.post(f"/api/v1/api-keys/{keys[0].json()['id']}/rotate/", {}, "json")
    assert rotated.status_code == 201
    assert owner.delete(f"/api/v1/api-keys/{keys[1].json()['id']}/").status_code == 204
    assert owner.post("/api/v1/api-keys/", {"name": "k3"}, "json").status_code == 201


def test_webhook_endpoints_are_capped_per_tenant(owner, outsider, settings):
    settings.TENANT_MAX_WEBHOOK_ENDPOINTS = 2
    body = {"url": HOOK, "event_types": ["trade.created"]}
    assert [owner.post(ENDPOINTS, body, "json").status_code for _ in range(2)] == [201, 201]
    refused(owner.post(ENDPOINTS, body, "json"), 409, "TENANT_MAX_WEBHOOK_ENDPOINTS")
    assert outsider.post(ENDPOINTS, body, "json").status_code == 201


def test_the_admin_form_says_the_endpoint_cap(client, alice, tenant_a, settings):
    settings.TENANT_MAX_WEBHOOK_ENDPOINTS = 1
    create_endpoint(tenant_a, HOOK, ["trade.created"])
    client.force_login(alice)
    response = client.post(
        "/admin/trades/webhookendpoint/add/",
        {"tenant": tenant_a.pk, "url": HOOK, "event_types": ["trade.created"], "is_active": "on"},
    )
    assert response.status_code == 200
    assert "TENANT_MAX_WEBHOOK_ENDPOINTS" in str(response.context["adminform"].form.errors)


def test_the_admin_form_says_the_key_cap(client, alice, tenant_a, settings):
    settings.TENANT_MAX_API_KEYS = 1
    create_api_key(tenant_a, "one")
    client.force_login(alice)
    response = client.post(
        "/admin/trades/apikey/add/", {"tenant": tenant_a.pk, "name": "two", "scope": "read"}
    )
    assert response.status_code == 200
    assert "TENANT_MAX_API_KEYS" in str(response.context["adminform"].form.errors)
    assert not ApiKey.objects.filter(name="two").exists()


def test_test_events_are_capped_per_tenant_and_hour(owner, outsider, tenant_a, settings):
    settings.TENANT_TEST_EVENTS_PER_HOUR = 2
    mine = owner.post(ENDPOINTS, {"url": HOOK, "event_types": ["trade.created"]}, "json")
    theirs = outsider.post(ENDPOINTS, {"url": HOOK, "event_types": ["trade.created"]}, "json")
    test = f"{ENDPOINTS}{mine.json()['id']}/test/"
    assert [owner.post(test).status_code for _ in range(2)] == [202, 202]
    response = owner.post(test)
    refused(response, 429, "TENANT_TEST_EVENTS_PER_HOUR")
    assert 3500 <= int(response["Retry-After"]) <= 3600
    assert outsider.post(f"{ENDPOINTS}{theirs.json()['id']}/test/").status_code == 202
    WebhookEvent.objects.filter(tenant=tenant_a).update(
        created_at=timezone.now() - timedelta(minutes=61)
    )
    assert owner.post(test).status_code == 202


def test_a_shop_job_runs_one_at_a_time_then_cools_down(owner, shop_a, shop_b, settings):
    settings.SHOP_BACKFILL_COOLDOWN_SECONDS = 3600
    jobs = f"/api/v1/shops/{shop_a.pk}/jobs/"
    assert owner.post(jobs, {"kind": "backfill"}, "json").status_code == 202
    refused(
        owner.post(jobs, {"kind": "backfill"}, "json"),
        409,
        "one queued or running backfill per shop",
    )
    assert owner.post(jobs, {"kind": "sync"}, "json").status_code == 202  # another kind

    job_finished(shop_a.pk, "backfill")  # the task ended
    response = owner.post(jobs, {"kind": "backfill"}, "json")
    refused(response, 429, "SHOP_BACKFILL_COOLDOWN_SECONDS")
    assert 3500 <= int(response["Retry-After"]) <= 3600

    JobRequest.objects.filter(shop=shop_a).update(
        requested_at=timezone.now() - timedelta(seconds=3601)
    )
    assert owner.post(jobs, {"kind": "backfill"}, "json").status_code == 202


def test_a_lost_job_request_does_not_block_the_shop_forever(owner, shop_a, settings):
    jobs = f"/api/v1/shops/{shop_a.pk}/jobs/"
    assert owner.post(jobs, {"kind": "sync"}, "json").status_code == 202
    JobRequest.objects.filter(shop=shop_a).update(
        requested_at=timezone.now() - timedelta(seconds=3 * settings.Q_RETRY + 1)
    )
    assert owner.post(jobs, {"kind": "sync"}, "json").status_code == 202


def test_an_unfinished_backfill_is_not_requested_again(owner, shop_a):
    Checkpoint.objects.update_or_create(
        shop=shop_a,
        stream=Checkpoint.Stream.BACKFILL,
        defaults={"progress": {"until": "2026-11-11 00:00:00"}},
    )
    response = owner.post(f"/api/v1/shops/{shop_a.pk}/jobs/", {"kind": "backfill"}, "json")
    refused(response, 409, "one backfill at a time per shop")


def test_the_task_ending_frees_the_request(shop_a, monkeypatch):
    from trades import tasks

    JobRequest.objects.create(shop=shop_a, kind="reconcile", requested_at=timezone.now())
    monkeypatch.setattr(tasks, "_active", lambda shop_id: None)  # ends at once
    tasks.reconcile_shop_task(shop_a.pk)
    assert JobRequest.objects.get(shop=shop_a).finished_at is not None


def deliveries(tenant, endpoint, count: int) -> list[int]:
    event = WebhookEvent.objects.create(tenant=tenant, type=EventType.TEST, data={})
    made = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            tenant=tenant, endpoint=endpoint, event=event, state="succeeded", attempts=1
        )
        for _ in range(count)
    )
    return [d.pk for d in made]


def test_redeliver_is_paged_and_bounded_per_tenant(owner, tenant_a, settings):
    settings.WEBHOOKS_REDELIVER_PAGE = 3
    endpoint = create_endpoint(tenant_a, HOOK, ["trade.created"]).endpoint
    ids = deliveries(tenant_a, endpoint, 5)
    now = timezone.now()
    body = {
        "endpoint": endpoint.pk,
        "created_after": (now - timedelta(hours=1)).isoformat(),
        "created_before": (now + timedelta(hours=1)).isoformat(),
    }
    url = "/api/v1/webhook-deliveries/redeliver/"

    first = owner.post(url, body, "json")
    assert first.status_code == 202
    assert first.json() == {"redelivered": 3, "next_after": ids[2]}
    waiting = WebhookDelivery.objects.filter(state="pending", attempts=0)
    assert sorted(waiting.values_list("pk", flat=True)) == ids[:3]

    # those three wait for their first try: a full page, so the next one waits
    refused(owner.post(url, {**body, "after": ids[2]}, "json"), 429, "WEBHOOKS_REDELIVER_PAGE")
    single = owner.post(f"/api/v1/webhook-deliveries/{ids[4]}/redeliver/")
    refused(single, 429, "WEBHOOKS_REDELIVER_PAGE")

    WebhookDelivery.objects.filter(pk__in=ids[:3]).update(attempts=1)  # sent
    last = owner.post(url, {**body, "after": ids[2]}, "json")
    assert last.json() == {"redelivered": 2, "next_after": None}
    assert set(
        WebhookDelivery.objects.filter(pk__in=ids, attempts=0).values_list("pk", flat=True)
    ) == set(ids[3:])


@pytest.mark.django_db(transaction=True)
def test_concurrent_job_requests_queue_one(shop_a):
    """Eight connections ask at once: the claim is one statement, so exactly one passes."""
    import threading

    from django.db import connection

    from shops.caps import OverCap
    from shops.jobs import request_job

    barrier, outcomes = threading.Barrier(8), []

    def ask() -> None:
        try:
            barrier.wait()
            request_job(shop_a, "backfill")
            outcomes.append("queued")
        except OverCap:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["queued"] + ["refused"] * 7
