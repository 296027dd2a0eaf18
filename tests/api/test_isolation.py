"""Every endpoint with three actors: A's owner key, A's read-only key, B's key (an outsider)."""

from __future__ import annotations

import pytest
from django.db import transaction

from trades.feed.changes import Change, record_changes

pytestmark = pytest.mark.django_db

LISTS = ["shops", "trades", "refunds", "sync-runs", "reconcile-reports"]


def detail_urls(data) -> dict[str, str]:
    return {
        "shops": f"/api/v1/shops/{data['shop'].pk}/",
        "trades": f"/api/v1/trades/{data['trades'][0].tid}/",
        "refunds": f"/api/v1/refunds/{data['refund'].refund_id}/",
        "sync-runs": f"/api/v1/sync-runs/{data['runs'][0].pk}/",
        "reconcile-reports": f"/api/v1/reconcile-reports/{data['report'].pk}/",
    }


def keys_of(body: dict, endpoint: str) -> set:
    field = {"trades": "tid", "refunds": "refund_id"}.get(endpoint, "id")
    return {row[field] for row in body["results"]}


def expected_keys(data, endpoint: str) -> set:
    return {
        "shops": {data["shop"].pk},
        "trades": {t.tid for t in data["trades"]},
        "refunds": {data["refund"].refund_id},
        "sync-runs": {r.pk for r in data["runs"]},
        "reconcile-reports": {data["report"].pk},
    }[endpoint]


@pytest.mark.parametrize("endpoint", LISTS)
def test_lists_show_only_the_keys_tenant(
    endpoint, owner_client, reader_client, outsider_client, data_a, data_b
):
    for client in (owner_client, reader_client):
        response = client.get(f"/api/v1/{endpoint}/")
        assert response.status_code == 200
        assert keys_of(response.json(), endpoint) == expected_keys(data_a, endpoint)
    response = outsider_client.get(f"/api/v1/{endpoint}/")
    assert response.status_code == 200
    assert keys_of(response.json(), endpoint) == expected_keys(data_b, endpoint)


@pytest.mark.parametrize("endpoint", LISTS)
def test_details_of_another_tenant_are_not_found(
    endpoint, owner_client, reader_client, outsider_client, data_a, data_b
):
    url_a = detail_urls(data_a)[endpoint]
    assert owner_client.get(url_a).status_code == 200
    assert reader_client.get(url_a).status_code == 200
    response = outsider_client.get(url_a)
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}
    assert owner_client.get(detail_urls(data_b)[endpoint]).status_code == 404


@pytest.mark.parametrize("endpoint", [*LISTS, "changes", "api-keys"])
def test_no_or_bad_key_is_401(endpoint, client, data_a):
    response = client.get(f"/api/v1/{endpoint}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    response = client.get(f"/api/v1/{endpoint}/", HTTP_AUTHORIZATION="Bearer osk_nope_nope")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_trade_detail_has_sub_orders_and_refunds(owner_client, data_a):
    trade = data_a["trades"][0]
    body = owner_client.get(f"/api/v1/trades/{trade.tid}/").json()
    assert [line["oid"] for line in body["lines"]] == [trade.tid * 10, trade.tid * 10 + 1]
    assert [r["refund_id"] for r in body["refunds"]] == [data_a["refund"].refund_id]
    assert body["payload"] == {"tid": trade.tid}


def test_shop_shows_sync_health(reader_client, data_a):
    body = reader_client.get(f"/api/v1/shops/{data_a['shop'].pk}/").json()
    assert body["status"] == "active" and body["degraded"] is False
    (checkpoint,) = body["checkpoints"]
    assert checkpoint["stream"] == "trades" and 170 <= checkpoint["lag_seconds"] <= 200
    assert body["last_run"]["id"] == data_a["runs"][1].pk
    assert body["failed_runs_24h"] == 1


class TestJobRequests:
    @pytest.fixture(autouse=True)
    def queued(self, monkeypatch):
        calls = []

        def fake_async_task(name, *args, **kwargs):
            calls.append((name, args))
            return "task-1"

        monkeypatch.setattr("shops.jobs.async_task", fake_async_task)
        return calls

    @pytest.mark.parametrize(
        "kind,task",
        [
            ("sync", "trades.tasks.sync_shop_task"),
            ("backfill", "trades.tasks.backfill_shop_task"),
            ("reconcile", "trades.tasks.reconcile_shop_task"),
        ],
    )
    def test_owner_key_queues_the_job(self, owner_client, data_a, queued, kind, task):
        shop = data_a["shop"]
        response = owner_client.post(f"/api/v1/shops/{shop.pk}/jobs/", {"kind": kind}, "json")
        assert response.status_code == 202
        body = response.json()
        job = f"/api/v1/jobs/{body['job']}/"
        assert body == {
            "shop": shop.pk,
            "kind": kind,
            "task_id": "task-1",
            "job": body["job"],
            "url": job,
        }
        assert response["Location"] == f"http://testserver{job}"
        assert queued == [(task, (shop.pk,))]

    def test_read_key_is_403(self, reader_client, data_a, queued):
        url = f"/api/v1/shops/{data_a['shop'].pk}/jobs/"
        response = reader_client.post(url, {"kind": "sync"}, "json")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert queued == []

    def test_outsider_is_404(self, outsider_client, data_a, queued):
        url = f"/api/v1/shops/{data_a['shop'].pk}/jobs/"
        assert outsider_client.post(url, {"kind": "sync"}, "json").status_code == 404
        assert queued == []

    def test_unknown_kind_is_400(self, owner_client, data_a, queued):
        url = f"/api/v1/shops/{data_a['shop'].pk}/jobs/"
        response = owner_client.post(url, {"kind": "everything"}, "json")
        assert response.status_code == 400
        assert "kind" in response.json()["errors"]
        assert queued == []


@pytest.mark.django_db(transaction=True)
def test_change_feed_per_actor(owner_client, reader_client, outsider_client, shop_a, shop_b):
    for shop, object_id in ((shop_a, 1), (shop_a, 2), (shop_b, 3)):
        with transaction.atomic():
            record_changes(shop, [Change("trade", object_id, object_id, "S", None, shop.created)])
    for client, expected in (
        (owner_client, [1, 2]),
        (reader_client, [1, 2]),
        (outsider_client, [3]),
    ):
        body = client.get("/api/v1/changes/").json()
        assert [e["object_id"] for e in body["results"]] == expected
        assert body["has_more"] is False
        again = client.get("/api/v1/changes/", {"after": body["next_cursor"]}).json()
        assert again["results"] == [] and again["next_cursor"] == body["next_cursor"]
    body = owner_client.get("/api/v1/changes/", {"limit": 1}).json()
    assert body["has_more"] is True and len(body["results"]) == 1
