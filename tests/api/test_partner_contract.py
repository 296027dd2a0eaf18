"""What an ERP developer relies on: exact ids, both URL forms, readable errors, one paging
vocabulary, idempotent POSTs, ETags, rate-limit headers, jobs and ``fields=``; with the
three actors (A's owner key, A's read-only key, B's key)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.support.records import make_refund, make_trade
from trades.api.auth import ApiKeyRateThrottle
from trades.api.jobs import record_job_outcome
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.api.models import IdempotencyKey, Job
from trades.feed.changes import Change, record_changes
from trades.models import REFUND_STATUSES, TRADE_STATUSES, TradeLine
from trades.webhooks.models import SUBSCRIBABLE, WebhookEndpoint, WebhookEvent
from trades.webhooks.payload import render

pytestmark = pytest.mark.django_db

BIG_TID = 3900000000000016884  # JSON.parse reads 3900000000000017000
BIG_REFUND = 2900000000000016885


def record(shop, trade) -> None:
    with transaction.atomic():
        record_changes(
            shop, [Change("trade", trade.pk, trade.tid, trade.status, None, trade.modified)]
        )


@pytest.fixture
def hook_url(settings) -> str:
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # nothing is sent: endpoints are only created
    return "http://127.0.0.1:9/hook"


@pytest.fixture
def big(shop_a):
    """A trade, its one sub-order (oid == tid) and a refund, with ids past 2**53."""
    trade = make_trade(shop_a, BIG_TID, lines=0)
    TradeLine.objects.create(trade=trade, oid=BIG_TID, title="item", num=1)
    refund = make_refund(shop_a, BIG_REFUND, BIG_TID, oid=BIG_TID)
    record(shop_a, trade)
    return trade, refund


# 1. ids survive JavaScript


@pytest.mark.django_db(transaction=True)  # the feed shows committed changes only
def test_every_platform_id_comes_as_a_string_too(owner_client, reader_client, big):
    listed = reader_client.get("/api/v1/trades/").json()["results"][0]
    assert listed["tid"] == BIG_TID and listed["tid_str"] == str(BIG_TID)
    assert listed["lines"][0]["oid_str"] == str(BIG_TID)
    detail = reader_client.get(f"/api/v1/trades/{BIG_TID}/").json()
    assert detail["tid_str"] == str(BIG_TID) and detail["lines"][0]["oid_str"] == str(BIG_TID)
    assert detail["refunds"][0]["refund_id_str"] == str(BIG_REFUND)
    refund = reader_client.get("/api/v1/refunds/", {"tid": str(BIG_TID)}).json()["results"][0]
    assert (refund["refund_id_str"], refund["tid_str"], refund["oid_str"]) == (
        str(BIG_REFUND),
        str(BIG_TID),
        str(BIG_TID),
    )
    refund_detail = reader_client.get(f"/api/v1/refunds/{BIG_REFUND}/").json()
    assert refund_detail["refund_id_str"] == str(BIG_REFUND)
    change = reader_client.get("/api/v1/changes/").json()["results"][0]
    assert change["key"] == BIG_TID and change["key_str"] == str(BIG_TID)


def test_string_ids_are_in_the_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]
    schemas = schema["schemas"]
    # OpenAPI 3.1 writes a nullable string as ["string", "null"]
    assert "string" in schemas["Trade"]["properties"]["tid_str"]["type"]
    assert "JSON.parse" in schemas["Trade"]["properties"]["tid_str"]["description"]
    assert "string" in schemas["TradeLine"]["properties"]["oid_str"]["type"]
    assert "string" in schemas["Refund"]["properties"]["refund_id_str"]["type"]
    assert "string" in schemas["Change"]["properties"]["key_str"]["type"]


def test_webhook_bodies_carry_string_ids(tenant_a):
    event = WebhookEvent.objects.create(
        tenant=tenant_a, type="reconcile.found_missing", data={"tids": [BIG_TID], "report": 1}
    )
    event.refresh_from_db()
    assert b'"tids_str":["3900000000000016884"]' in render(event, "tenant-a")
    event = WebhookEvent.objects.create(
        tenant=tenant_a, type="refund.created", data={"refund_id": BIG_REFUND, "tid": BIG_TID}
    )
    event.refresh_from_db()
    body = render(event, "tenant-a")
    assert b'"refund_id_str":"2900000000000016885"' in body and b'"tid_str":"39' in body


# 2. the URL without its slash


def test_paths_without_the_trailing_slash_answer_too(
    owner_client, reader_client, outsider_client, big, hook_url
):
    slashed = reader_client.get("/api/v1/trades/", {"limit": 5}).json()
    assert reader_client.get("/api/v1/trades", {"limit": 5}).json() == slashed
    assert reader_client.get(f"/api/v1/trades/{BIG_TID}").json()["tid"] == BIG_TID
    assert outsider_client.get(f"/api/v1/trades/{BIG_TID}").status_code == 404
    body = {"url": hook_url, "event_types": ["trade.created"]}
    assert reader_client.post("/api/v1/webhook-endpoints", body, "json").status_code == 403
    created = owner_client.post("/api/v1/webhook-endpoints", body, "json")
    assert created.status_code == 201 and WebhookEndpoint.objects.count() == 1


# 3. errors a person can read


def test_a_bad_event_type_says_which_and_what_is_allowed(owner_client, hook_url):
    body = {"url": hook_url, "event_types": ["trade.created", "trade.exploded"]}
    response = owner_client.post("/api/v1/webhook-endpoints/", body, "json")
    assert response.status_code == 400
    (message,) = response.json()["errors"]["event_types"]
    assert message.startswith('Item 1: "trade.exploded" is not one of: ')
    assert all(t in message for t in SUBSCRIBABLE) and "ErrorDetail" not in message


@pytest.mark.parametrize(
    "url,param,allowed",
    [
        ("/api/v1/trades/", "status", TRADE_STATUSES),
        ("/api/v1/trades/", "type", ["fixed", "step"]),
        ("/api/v1/refunds/", "status", REFUND_STATUSES),
        ("/api/v1/shops/", "status", ["active", "paused"]),
        ("/api/v1/sync-runs/", "kind", ["incremental", "backfill"]),
        ("/api/v1/sync-runs/", "outcome", ["succeeded", "failed"]),
        ("/api/v1/webhook-deliveries/", "state", ["pending", "succeeded", "failed"]),
    ],
)
def test_an_unknown_enum_value_is_a_400_listing_the_allowed(reader_client, url, param, allowed):
    response = reader_client.get(url, {param: "FOO"})
    assert response.status_code == 400
    (message,) = response.json()["errors"][param]
    assert message.startswith('"FOO" is not one of: ')
    assert all(value in message for value in allowed)


# 4. one paging vocabulary


@pytest.mark.parametrize(
    "url",
    ["/api/v1/trades/", "/api/v1/refunds/", "/api/v1/shops/", "/api/v1/sync-runs/"],
)
def test_every_list_says_has_more(reader_client, data_a, url, tenant_a, top_app):
    from shops.models import Shop

    Shop.objects.create(tenant=tenant_a, app=top_app, seller_nick="o", seller_id=9)
    make_refund(data_a["shop"], 7001, 1001)
    first = reader_client.get(url, {"limit": 1}).json()
    assert first["has_more"] is True and first["next_cursor"]
    rest = reader_client.get(url, {"limit": 200, "cursor": first["next_cursor"]}).json()
    assert rest["has_more"] is False and rest["next_cursor"] is None


@pytest.mark.django_db(transaction=True)
def test_the_feed_pages_by_cursor_keeps_after_and_filters_by_shop(
    reader_client, outsider_client, shop_a, tenant_a, top_app
):
    from shops.models import Shop

    other = Shop.objects.create(tenant=tenant_a, app=top_app, seller_nick="o", seller_id=9)
    for n, shop in enumerate([shop_a, other, shop_a, other]):
        record(shop, make_trade(shop, 100 + n, minutes=n))
    page = reader_client.get("/api/v1/changes/", {"limit": 2}).json()
    assert page["has_more"] is True
    by_cursor = reader_client.get("/api/v1/changes/", {"cursor": page["next_cursor"]}).json()
    by_after = reader_client.get("/api/v1/changes/", {"after": page["next_cursor"]}).json()
    assert by_cursor == by_after and [c["key"] for c in by_cursor["results"]] == [102, 103]
    both = {"cursor": page["next_cursor"], "after": page["next_cursor"]}
    assert reader_client.get("/api/v1/changes/", both).status_code == 400
    mine = reader_client.get("/api/v1/changes/", {"shop": other.pk}).json()
    assert [c["key"] for c in mine["results"]] == [101, 103]
    later = reader_client.get("/api/v1/changes/", {"shop": other.pk, "cursor": mine["next_cursor"]})
    assert later.json()["results"] == []
    # a shop with no changes moves its cursor past the others' (no rescan), and misses nothing
    quiet = Shop.objects.create(tenant=tenant_a, app=top_app, seller_nick="q", seller_id=10)
    empty = reader_client.get("/api/v1/changes/", {"shop": quiet.pk}).json()
    assert empty["results"] == [] and empty["next_cursor"] == page_at_end(reader_client)
    record(quiet, make_trade(quiet, 200))
    found = reader_client.get(
        "/api/v1/changes/", {"shop": quiet.pk, "cursor": empty["next_cursor"]}
    )
    assert [c["key"] for c in found.json()["results"]] == [200]
    assert outsider_client.get("/api/v1/changes/", {"shop": other.pk}).json()["results"] == []


def page_at_end(client) -> str:
    return client.get("/api/v1/changes/", {"limit": 1000}).json()["next_cursor"]


def test_the_schema_marks_after_deprecated(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    params = {p["name"]: p for p in schema["paths"]["/api/v1/changes/"]["get"]["parameters"]}
    assert params["after"].get("deprecated") is True
    assert not params["cursor"].get("deprecated") and "shop" in params
    page = schema["components"]["schemas"]["TradePage"]["properties"]
    assert {"results", "next_cursor", "has_more"} <= set(page)


# 5. idempotency, ETags, rate limits, jobs, fields=


def test_the_same_idempotency_key_creates_one_thing(owner_client, outsider_client, hook_url):
    body = {"url": hook_url, "event_types": ["trade.created"]}
    key = {"HTTP_IDEMPOTENCY_KEY": "erp-42"}
    first = owner_client.post("/api/v1/webhook-endpoints/", body, "json", **key)
    again = owner_client.post("/api/v1/webhook-endpoints", body, "json", **key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert WebhookEndpoint.objects.filter(tenant__slug="tenant-a").count() == 1
    # the stored answer holds the signing secret: encrypted, never in clear
    assert first.json()["secret"] not in IdempotencyKey.objects.get().body
    other = owner_client.post(
        "/api/v1/webhook-endpoints/", {**body, "description": "x"}, "json", **key
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # another tenant's same key is its own
    assert (
        outsider_client.post("/api/v1/webhook-endpoints/", body, "json", **key).status_code == 201
    )
    assert WebhookEndpoint.objects.count() == 2


def test_a_failed_request_frees_its_key_and_an_expired_key_is_new(
    owner_client, reader_client, tenant_a
):
    key = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    bad = owner_client.post("/api/v1/api-keys/", {"name": "x", "scope": "nope"}, "json", **key)
    assert bad.status_code == 400
    assert reader_client.post("/api/v1/api-keys/", {"name": "y"}, "json", **key).status_code == 403
    good = owner_client.post("/api/v1/api-keys/", {"name": "x"}, "json", **key)
    assert good.status_code == 201
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    fresh = owner_client.post("/api/v1/api-keys/", {"name": "x"}, "json", **key)
    assert fresh.status_code == 201 and fresh.json()["id"] != good.json()["id"]
    assert ApiKey.objects.filter(tenant=tenant_a, name="x").count() == 2


def test_details_answer_304_to_their_etag(reader_client, outsider_client, big):
    url = f"/api/v1/trades/{BIG_TID}/"
    first = reader_client.get(url)
    tag = first["ETag"]
    assert tag.startswith('"')
    unchanged = reader_client.get(url, HTTP_IF_NONE_MATCH=tag)
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged["ETag"] == tag
    assert reader_client.get(url, HTTP_IF_NONE_MATCH=f'"other", W/{tag}').status_code == 304
    trade, _ = big
    trade.status = "TRADE_FINISHED"
    trade.save()
    changed = reader_client.get(url, HTTP_IF_NONE_MATCH=tag)
    assert changed.status_code == 200 and changed["ETag"] != tag
    assert outsider_client.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 404


def test_every_answer_carries_the_rate_limit(owner_client, data_a, monkeypatch, hook_url):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    seen = []
    for send in (
        lambda: owner_client.get("/api/v1/trades/"),
        lambda: owner_client.post("/api/v1/webhook-endpoints/", {"url": "x"}, "json"),
        lambda: owner_client.get("/api/v1/shops/"),
        lambda: owner_client.get("/api/v1/shops/"),
    ):
        response = send()
        seen.append(
            (
                response.status_code,
                response["RateLimit-Limit"],
                response["RateLimit-Remaining"],
            )
        )
        assert 0 < int(response["RateLimit-Reset"]) <= 60
    assert seen == [(200, "3", "2"), (400, "3", "1"), (200, "3", "0"), (429, "3", "0")]


def test_a_job_is_a_resource_of_its_tenant(
    owner_client, reader_client, outsider_client, shop_a, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "shops.jobs.async_task", lambda *args, **kwargs: queued.append(kwargs) or "task-9"
    )
    response = owner_client.post(f"/api/v1/shops/{shop_a.pk}/jobs/", {"kind": "sync"}, "json")
    assert response.status_code == 202
    url = response.json()["url"]
    assert response["Location"].endswith(url) and url.startswith("/api/v1/jobs/")
    job = reader_client.get(url).json()
    assert (job["state"], job["kind"], job["shop"], job["task_id"]) == (
        "queued",
        "sync",
        shop_a.pk,
        "task-9",
    )
    assert outsider_client.get(url).status_code == 404
    # a job the shop's caps refuse leaves no record
    refused = owner_client.post(f"/api/v1/shops/{shop_a.pk}/jobs/", {"kind": "sync"}, "json")
    assert refused.status_code == 409 and Job.objects.count() == 1
    assert (
        reader_client.post(f"/api/v1/shops/{shop_a.pk}/jobs/", {"kind": "sync"}, "json").status_code
        == 403
    )

    assert queued[0]["hook"] == "trades.api.jobs.record_job_outcome"

    class Task:  # what django-q2 hands its result hook
        id, success, result = "task-9", False, "TOP said no"
        started = stopped = timezone.now()

    record_job_outcome(Task)
    failed = reader_client.get(url).json()
    assert failed["state"] == "failed" and failed["error"] == "TOP said no"
    assert Job.objects.get().finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_fields_chooses_what_a_list_returns(reader_client, big):
    rows = reader_client.get("/api/v1/trades/", {"fields": "tid_str,status"}).json()["results"]
    assert rows == [{"tid_str": str(BIG_TID), "status": "WAIT_SELLER_SEND_GOODS"}]
    changes = reader_client.get("/api/v1/changes/", {"fields": "key_str"}).json()["results"]
    assert changes == [{"key_str": str(BIG_TID)}]
    bad = reader_client.get("/api/v1/refunds/", {"fields": "tid,price"})
    assert bad.status_code == 400
    (message,) = bad.json()["errors"]["fields"]
    assert message.startswith("Unknown field 'price'; known: refund_id, refund_id_str")


def test_a_key_whose_first_request_still_runs_is_a_409(owner_client, tenant_a, hook_url):
    body = {"url": hook_url, "event_types": ["trade.created"]}
    first = owner_client.post("/api/v1/webhook-endpoints/", body, "json", HTTP_IDEMPOTENCY_KEY="k")
    # as if that first request had not finished yet (its claim is committed, its answer not)
    IdempotencyKey.objects.update(status_code=None, body="")
    again = owner_client.post("/api/v1/webhook-endpoints/", body, "json", HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == 201
    assert again.status_code == 409 and again.json()["code"] == "idempotency_key_in_use"
    assert WebhookEndpoint.objects.filter(tenant=tenant_a).count() == 1
    long_key = owner_client.post(
        "/api/v1/webhook-endpoints/", body, "json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )
    assert long_key.status_code == 400 and "Idempotency-Key" in long_key.json()["errors"]


def test_a_job_shows_its_task_result_when_the_hook_missed_it(reader_client, shop_a):
    from django_q.models import Task

    job = Job.objects.create(tenant=shop_a.tenant, shop=shop_a, kind="sync", task_id="t-1")
    now = timezone.now()
    Task.objects.create(id="t-1", name="sync", func="f", started=now, stopped=now, success=True)
    body = reader_client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["state"] == "succeeded" and body["finished_at"] is not None


def test_rate_limit_headers_read_a_counter_throttle_too():
    from types import SimpleNamespace

    from trades.api.headers import rate_limit_headers

    # a throttle that keeps one counter per window (count so far, seconds left)
    counted = SimpleNamespace(result=SimpleNamespace(budget=10, count=11, window_left=2.2))
    assert rate_limit_headers(counted) == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "3",
    }
    assert rate_limit_headers(SimpleNamespace()) == {}  # a request it did not count


def test_two_requests_with_one_key_at_once_create_one_thing(live_server, tenant_a, hook_url):
    import threading

    import requests

    token = create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE).token
    barrier, answers = threading.Barrier(2), []

    def send() -> None:
        barrier.wait()
        answers.append(
            requests.post(
                f"{live_server.url}/api/v1/webhook-endpoints/",
                json={"url": hook_url, "event_types": ["trade.created"]},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "same"},
                timeout=30,
            )
        )

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # each server thread has its own connection: the key's row admits one of them; the other
    # is replayed the first answer, or told the first still runs
    codes = sorted(answer.status_code for answer in answers)
    assert codes in ([201, 201], [201, 409])
    assert WebhookEndpoint.objects.filter(tenant=tenant_a).count() == 1
    created = [a.json() for a in answers if a.status_code == 201]
    assert all(body["id"] == created[0]["id"] for body in created)
