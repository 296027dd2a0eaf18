"""New API keys and webhook secrets are shown once in the console and never travel in a
cookie: they wait in the server-side session until the next page shows them."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.core import checks
from django.db import connection
from django.http import HttpRequest

from trades.api.key_models import ApiKey
from trades.api.keys import hash_token
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import WebhookEndpoint, WebhookSecret

pytestmark = pytest.mark.django_db
URL = "https://example.com/hook"


def set_cookies(response) -> str:
    """The cookies the response sets, with the messages cookie decoded (it is signed and
    compressed, not encrypted: whoever sees it can read it)."""
    sent = [morsel.OutputString() for morsel in response.cookies.values()]
    morsel = response.cookies.get(CookieStorage.cookie_name)
    if morsel is not None and morsel.value:
        sent += [str(m) for m in CookieStorage(HttpRequest())._decode(morsel.value) or []]
    return " ".join(sent)


def shown_once(client, response, secret: str) -> None:
    """``response`` (a redirect) carries no secret; the page after it shows it; no page
    after that does, and the session table does not hold it in the clear."""
    assert response.status_code == 302
    assert secret not in set_cookies(response) and secret not in response.content.decode()
    page = client.get(response["Location"])
    assert secret in page.content.decode()
    assert secret not in set_cookies(page)
    assert secret not in client.get(response["Location"]).content.decode()
    assert secret not in client.get("/admin/").content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_data FROM django_session")
        assert all(secret not in row[0] for row in cursor.fetchall())


def test_a_new_api_keys_token_is_shown_once_outside_cookies(client, alice, tenant_a):
    client.force_login(alice)
    response = client.post(
        "/admin/trades/apikey/add/", {"tenant": tenant_a.pk, "name": "ERP", "scope": "read"}
    )
    key = ApiKey.objects.get(name="ERP")
    page = client.get(response["Location"]).content.decode()
    (token,) = set(re.findall(rf"osk_{key.prefix}_[A-Za-z0-9_-]+", page))
    assert token not in set_cookies(response) and key.token_hash == hash_token(token)
    assert token not in client.get(response["Location"]).content.decode()
    assert token not in client.get("/admin/").content.decode()


def test_a_new_webhook_secret_is_shown_once_outside_cookies(client, alice, tenant_a):
    client.force_login(alice)
    client.get("/admin/")  # a session exists before, as in a browser
    response = client.post(
        "/admin/trades/webhookendpoint/add/",
        {
            "tenant": tenant_a.pk,
            "url": URL,
            "event_types": ["trade.created"],
            "is_active": "on",
        },
    )
    secret = WebhookSecret.objects.get(endpoint__tenant=tenant_a).secret
    shown_once(client, response, secret)


def test_a_rotated_webhook_secret_is_shown_once_outside_cookies(client, alice, tenant_a):
    endpoint = create_endpoint(tenant_a, URL, ["trade.created"]).endpoint
    client.force_login(alice)
    response = client.post(
        "/admin/trades/webhookendpoint/",
        {"action": "rotate_secrets", "_selected_action": [endpoint.pk]},
    )
    newest = WebhookSecret.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")[0]
    shown_once(client, response, newest.secret)
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secrets.count() == 2


def test_sessions_must_stay_on_the_server(settings):
    assert settings.SESSION_ENGINE != "django.contrib.sessions.backends.signed_cookies"
    assert [e.id for e in checks.run_checks(tags=[checks.Tags.security])].count(
        "ordersync.E001"
    ) == 0
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    assert "ordersync.E001" in [e.id for e in checks.run_checks(tags=[checks.Tags.security])]
