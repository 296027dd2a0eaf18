"""Secrets at rest stay secret where people look: admin pages, the partner API, the database."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from tests.support.api import client_for
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.webhooks.endpoints import create_endpoint

pytestmark = pytest.mark.django_db

REFRESH = "rt-refresh-token-of-a"


@pytest.fixture
def secrets(shop_a, tenant_a) -> list[str]:
    shop_a.refresh_token = REFRESH
    shop_a.save()
    webhook = create_endpoint(tenant_a, "https://erp.example.com/hooks", ["trade.created"])
    api_key = create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE)
    return ["sk-a", "helloworld", REFRESH, webhook.secret, api_key.token]


def _admin_pages(shop_a) -> list[str]:
    endpoint = shop_a.tenant.webhook_endpoints.get()
    key = shop_a.tenant.api_keys.get()
    return [
        "/admin/shops/shop/",
        f"/admin/shops/shop/{shop_a.pk}/change/",
        "/admin/shops/topapp/",
        f"/admin/shops/topapp/{shop_a.app_id}/change/",
        "/admin/trades/webhookendpoint/",
        f"/admin/trades/webhookendpoint/{endpoint.pk}/change/",
        "/admin/trades/apikey/",
        f"/admin/trades/apikey/{key.pk}/change/",
    ]


def test_admin_pages_never_show_a_secret(secrets, shop_a):
    operator = get_user_model().objects.create_superuser("root", password="pw-root")
    browser = Client()
    browser.force_login(operator)
    for url in _admin_pages(shop_a):
        response = browser.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        for secret in secrets:
            assert secret not in page, (url, secret)


def test_the_partner_api_never_shows_a_secret(secrets, shop_a, tenant_a):
    api = client_for(create_api_key(tenant_a, "BI", ApiKey.Scope.READ).token)
    for url in ("/api/v1/shops/", f"/api/v1/shops/{shop_a.pk}/", "/api/v1/webhook-endpoints/"):
        response = api.get(url)
        assert response.status_code == 200, url
        for secret in secrets:
            assert secret not in response.content.decode(), (url, secret)


def test_str_and_repr_never_show_a_secret(secrets, shop_a):
    endpoint = shop_a.tenant.webhook_endpoints.get()
    for obj in (shop_a, shop_a.app, endpoint, *endpoint.secrets.all()):
        for text in (str(obj), repr(obj)):
            for secret in secrets:
                assert secret not in text, (text, secret)


def test_the_database_holds_only_ciphertext_or_hashes(secrets, shop_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.session_key, s.refresh_token, a.app_secret FROM shops_shop s"
            " JOIN shops_topapp a ON a.id = s.app_id WHERE s.id = %s",
            [shop_a.pk],
        )
        stored = " ".join(cursor.fetchone())
        cursor.execute("SELECT secret FROM trades_webhooksecret")
        stored += " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT token_hash, prefix FROM trades_apikey")
        stored += " ".join(" ".join(row) for row in cursor.fetchall())
    for secret in secrets:
        assert secret not in stored, secret


def test_an_operator_sets_the_app_secret_once_and_it_is_never_shown(db):
    from shops.models import TopApp

    operator = get_user_model().objects.create_superuser("root", password="pw-root")
    browser = Client()
    browser.force_login(operator)
    form = {
        "name": "Our app",
        "app_key": "23456789",
        "gateway_url": "https://gw.api.taobao.com/router/rest",
        "authorize_url": "https://oauth.taobao.com/authorize",
        "token_url": "https://oauth.taobao.com/token",
        "sign_method": "hmac-sha256",
        "calls_per_minute": 1000,
    }
    refused = browser.post("/admin/shops/topapp/add/", form)
    assert refused.status_code == 200 and b"needs its secret" in refused.content
    assert not TopApp.objects.exists()

    added = browser.post("/admin/shops/topapp/add/", {**form, "new_app_secret": "s3cr3t-app"})
    assert added.status_code == 302
    app = TopApp.objects.get()
    assert app.app_secret == "s3cr3t-app"

    page = browser.get(f"/admin/shops/topapp/{app.pk}/change/").content.decode()
    assert "s3cr3t-app" not in page
    # changing other fields with the secret left empty keeps it
    kept = browser.post(f"/admin/shops/topapp/{app.pk}/change/", {**form, "calls_per_minute": 5})
    assert kept.status_code == 302
    app.refresh_from_db()
    assert app.app_secret == "s3cr3t-app" and app.calls_per_minute == 5
