"""The partner API's own middleware stack (``API_MIDDLEWARE``): the same security headers,
Host check, HTTPS redirect, language and audit actor as before, and none of the console's
sessions, CSRF, users or messages; the console keeps all of those."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from shops.audit.actor import SYSTEM, current_actor
from tests.support.api import client_for
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key

TRADES = "/api/v1/trades/"


@pytest.fixture
def token(tenant_a) -> str:
    return create_api_key(tenant_a, "ERP", ApiKey.Scope.READ_WRITE).token


@pytest.fixture
def partner(token):
    return client_for(token)


@pytest.fixture
def https(settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_SSL_REDIRECT = True
    return {"secure": True}


def test_an_api_answer_carries_the_security_headers_and_its_language(partner, https):
    answer = partner.get(TRADES, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9", **https)
    assert answer.status_code == 200
    assert answer["Strict-Transport-Security"] == "max-age=3600"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Referrer-Policy"] == "same-origin"
    assert answer["Cross-Origin-Opener-Policy"] == "same-origin"
    assert answer["X-Frame-Options"] == "DENY"
    assert answer["Content-Language"] == "zh-hans"
    assert "Accept-Language" in answer["Vary"]


def test_an_api_error_is_in_the_language_asked_for_with_the_same_headers(db, https):
    answer = client_for("osk_nope_nope").get(TRADES, HTTP_ACCEPT_LANGUAGE="zh-hans", **https)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "API 密钥未知、已过期或已吊销。"
    assert answer["Content-Language"] == "zh-hans"
    assert answer["X-Frame-Options"] == "DENY"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Strict-Transport-Security"] == "max-age=3600"


def test_plain_http_to_the_api_is_redirected_to_https(partner, https):
    answer = partner.get(TRADES + "?limit=5")
    assert answer.status_code == 301
    assert answer["Location"] == "https://testserver/api/v1/trades/?limit=5"


def test_the_api_checks_the_host_header(partner):
    assert partner.get(TRADES, HTTP_HOST="evil.example").status_code == 400
    assert partner.get(TRADES, HTTP_HOST="localhost").status_code == 200


def test_the_api_reads_no_session_user_or_messages_and_sets_no_cookie(partner, alice, client):
    client.force_login(alice)  # a console sign-in's session cookie goes along, unused
    partner.cookies = client.cookies
    answer = partner.get(TRADES)
    assert answer.status_code == 200
    request = answer.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "_messages")
    assert request.user is None  # DRF's: the key acts, not a person
    assert not answer.cookies and "Cookie" not in answer.get("Vary", "")
    assert partner.get("/api/docs/").cookies == {}  # no CSRF cookie: the API takes none


def test_the_key_acts_within_its_request_only(partner):
    # the key names itself as the audit actor inside the request's own block; without the
    # audit middleware on the API's stack it would stay the actor of what this thread does next
    assert partner.get(TRADES).status_code == 200
    assert current_actor() == SYSTEM


def test_a_session_never_authenticates_the_api(alice, client):
    client.force_login(alice)
    answer = client.get(TRADES)
    assert answer.status_code == 401 and answer.json()["code"] == "not_authenticated"


def test_a_post_to_the_api_needs_no_csrf_token(token):
    body = {"url": "https://erp.example.com/h", "event_types": ["trade.created"]}
    strict = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {token}")
    answer = strict.post("/api/v1/webhook-endpoints/", body, content_type="application/json")
    assert answer.status_code == 201, answer.content


def test_the_console_keeps_sessions_csrf_users_and_messages(alice):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/admin/login/")
    assert page.status_code == 200 and "csrftoken" in page.cookies
    assert hasattr(page.wsgi_request, "session") and hasattr(page.wsgi_request, "_messages")
    assert page["X-Frame-Options"] == "DENY"
    forged = browser.post("/admin/login/", {"username": "alice", "password": "x"})
    assert forged.status_code == 403  # no CSRF token
    browser.force_login(alice)
    signed_in = browser.get("/admin/")
    assert signed_in.status_code == 200 and signed_in.wsgi_request.user == alice


def test_the_security_middleware_of_the_console_is_the_apis_too():
    shared = {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "shops.audit.actor.AuditActorMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    }
    assert shared <= set(settings.MIDDLEWARE) and shared <= set(settings.API_MIDDLEWARE)
