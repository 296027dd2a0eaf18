"""API keys: shown once, stored hashed, scoped, expiring, revocable, rotated, throttled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.support.api import client_for
from trades.api.auth import ApiKeyRateThrottle
from trades.api.key_models import ApiKey
from trades.api.keys import (
    create_api_key,
    find_api_key,
    hash_token,
    revoke_api_key,
    rotate_api_key,
)

pytestmark = pytest.mark.django_db


def test_token_is_returned_once_and_only_its_hash_is_stored(tenant_a, alice):
    issued = create_api_key(tenant_a, "ERP", created_by=alice)
    stored = ApiKey.objects.get(pk=issued.key.pk)
    assert issued.token.startswith(f"osk_{stored.prefix}_")
    assert stored.token_hash == hash_token(issued.token)
    assert issued.token not in str(ApiKey.objects.filter(pk=stored.pk).values().get())
    assert find_api_key(issued.token) == stored
    assert find_api_key(issued.token + "x") is None
    assert find_api_key(f"osk_{stored.prefix}_guess") is None


def test_revoked_and_expired_keys_are_refused(tenant_a):
    revoked = create_api_key(tenant_a, "old")
    revoke_api_key(revoked.key)
    expired = create_api_key(tenant_a, "temp", expires_at=timezone.now() - timedelta(seconds=1))
    for token in (revoked.token, expired.token):
        response = client_for(token).get("/api/v1/trades/")
        assert response.status_code == 401
        assert response.json()["detail"] == "Unknown, expired or revoked API key."


def test_rotation_with_grace_keeps_the_old_key_working_until_then(tenant_a):
    old = create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE)
    new = rotate_api_key(old.key, grace=timedelta(hours=1))
    assert new.key.scope == ApiKey.Scope.READ_WRITE and new.key.name == "ERP"
    assert client_for(old.token).get("/api/v1/trades/").status_code == 200
    assert client_for(new.token).get("/api/v1/trades/").status_code == 200
    old.key.refresh_from_db()
    assert old.key.expires_at <= timezone.now() + timedelta(hours=1)

    newer = rotate_api_key(new.key)
    assert client_for(new.token).get("/api/v1/trades/").status_code == 401
    assert client_for(newer.token).get("/api/v1/trades/").status_code == 200


def test_last_used_is_written_at_most_once_a_minute(tenant_a):
    issued = create_api_key(tenant_a, "ERP")
    client = client_for(issued.token)
    with CaptureQueriesContext(connection) as first:
        client.get("/api/v1/trades/")
    with CaptureQueriesContext(connection) as second:
        client.get("/api/v1/trades/")
    updates = [q for q in first if q["sql"].startswith('UPDATE "trades_apikey"')]
    assert len(updates) == 1
    assert not [q for q in second if q["sql"].startswith('UPDATE "trades_apikey"')]
    issued.key.refresh_from_db()
    assert issued.key.last_used_at is not None


def test_each_key_is_throttled_with_retry_after(tenant_a, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    first, second = (client_for(create_api_key(tenant_a, n).token) for n in ("one", "two"))
    assert [first.get("/api/v1/shops/").status_code for _ in range(3)] == [200] * 3
    response = first.get("/api/v1/shops/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["code"] == "throttled"
    assert second.get("/api/v1/shops/").status_code == 200  # the budget is per key


def test_bad_authorization_header_is_401(client, tenant_a):
    token = create_api_key(tenant_a, "ERP").token
    for header in (f"Token {token}", "Bearer", f"Basic {token}"):
        response = client.get("/api/v1/trades/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header


class TestKeyEndpoints:
    def test_owner_creates_a_key_that_works_at_once(self, owner_client):
        response = owner_client.post(
            "/api/v1/api-keys/", {"name": "WMS", "scope": "read"}, format="json"
        )
        assert response.status_code == 201
        body = response.json()
        assert body["scope"] == "read" and body["token"].startswith("osk_")
        new = client_for(body["token"])
        assert new.get("/api/v1/trades/").status_code == 200
        listed = owner_client.get("/api/v1/api-keys/").json()["results"]
        assert all("token" not in key and "token_hash" not in key for key in listed)
        assert body["name"] in {key["name"] for key in listed}

    def test_read_key_cannot_list_or_manage_keys(self, reader_client, owner_client):
        listing = reader_client.get("/api/v1/api-keys/")
        assert listing.status_code == 403 and "results" not in listing.json()
        response = reader_client.post("/api/v1/api-keys/", {"name": "x"}, format="json")
        assert response.status_code == 403
        key_id = owner_client.get("/api/v1/api-keys/").json()["results"][0]["id"]
        assert reader_client.get(f"/api/v1/api-keys/{key_id}/").status_code == 403
        assert reader_client.delete(f"/api/v1/api-keys/{key_id}/").status_code == 403
        assert reader_client.post(f"/api/v1/api-keys/{key_id}/rotate/").status_code == 403

    def test_outsider_cannot_see_or_touch_anothers_keys(self, owner_client, outsider_client):
        key_id = owner_client.get("/api/v1/api-keys/").json()["results"][0]["id"]
        outsider_ids = {k["id"] for k in outsider_client.get("/api/v1/api-keys/").json()["results"]}
        assert key_id not in outsider_ids
        assert outsider_client.get(f"/api/v1/api-keys/{key_id}/").status_code == 404
        assert outsider_client.delete(f"/api/v1/api-keys/{key_id}/").status_code == 404
        assert outsider_client.post(f"/api/v1/api-keys/{key_id}/rotate/").status_code == 404
        assert owner_client.get("/api/v1/trades/").status_code == 200

    def test_revoke_and_rotate_through_the_api(self, owner_client, tenant_a):
        spare = create_api_key(tenant_a, "spare", ApiKey.Scope.READ)
        response = owner_client.post(
            f"/api/v1/api-keys/{spare.key.pk}/rotate/", {"grace_seconds": 0}, format="json"
        )
        assert response.status_code == 201
        rotated = response.json()["token"]
        assert client_for(spare.token).get("/api/v1/shops/").status_code == 401
        new_id = response.json()["id"]
        assert owner_client.delete(f"/api/v1/api-keys/{new_id}/").status_code == 204
        assert client_for(rotated).get("/api/v1/shops/").status_code == 401

    def test_expiry_must_be_in_the_future(self, owner_client):
        past = (timezone.now() - timedelta(days=1)).isoformat()
        response = owner_client.post(
            "/api/v1/api-keys/", {"name": "x", "expires_at": past}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["expires_at"]
