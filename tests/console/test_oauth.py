"""Connecting a Taobao shop through the sandbox's real OAuth endpoints, and what is refused."""

from __future__ import annotations

from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core import signing
from django.test import Client
from django_q.models import OrmQ

from shops import schedules
from shops.console.connect import STATE_SALT
from shops.models import Shop
from shops.top import client_for_shop

pytestmark = pytest.mark.django_db
CONNECT = "/admin/shops/shop/connect/"


@pytest.fixture
def oauth_app(gateway, sandbox_app):
    sandbox_app.authorize_url = f"{gateway.url}/authorize"
    sandbox_app.token_url = f"{gateway.url}/token"
    sandbox_app.save()
    return sandbox_app


def seller(gateway, app, nick: str, trades: int = 5) -> dict:
    return gateway.control(
        "sellers", {"app_key": app.app_key, "nick": nick, "history_trades": trades}
    )


def start(client: Client, tenant, app) -> str:
    """Submit the connect form; return the gateway's /authorize URL it redirects to."""
    assert client.get(CONNECT).status_code == 200
    response = client.post(CONNECT, {"tenant": tenant.pk, "app": app.pk})
    assert response.status_code == 302, response.content.decode()[:500]
    return response["Location"]


def authorize(gateway, location: str, nick: str) -> str:
    """The seller approves at the sandbox; return the callback path + query it redirects to."""
    gateway.control("oauth", {"nick": nick})
    response = requests.get(location, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    back = urlsplit(response.headers["Location"])
    assert back.path == "/admin/shops/shop/oauth/callback/"
    return f"{back.path}?{back.query}"


def connect(client, gateway, tenant, app, nick: str):
    return client.get(authorize(gateway, start(client, tenant, app), nick))


def test_full_round_trip_creates_the_shop_and_queues_its_backfill(
    client, gateway, oauth_app, alice, tenant_a, django_capture_on_commit_callbacks
):
    made = seller(gateway, oauth_app, "tea-house")
    client.force_login(alice)
    location = start(client, tenant_a, oauth_app)
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{gateway.url}/authorize?")
    assert query["client_id"] == [oauth_app.app_key] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://testserver/admin/shops/shop/oauth/callback/"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(authorize(gateway, location, "tea-house"))
    shop = Shop.objects.get(app=oauth_app, seller_id=made["user_id"])
    assert response.status_code == 302 and response["Location"].endswith(f"/{shop.pk}/change/")
    assert (shop.tenant, shop.seller_nick, shop.status) == (tenant_a, "tea-house", "active")
    assert shop.session_key and shop.refresh_token and shop.session_expires_at
    assert [q.task["func"] for q in OrmQ.objects.all()] == ["trades.tasks.backfill_shop_task"]
    assert Shop.objects.get(pk=shop.pk).next_sync_at is not None
    assert shop.checkpoints.count() == 3
    # the session is real: the sandbox accepts it
    top = client_for_shop(shop)
    top.call("taobao.trades.sold.get", {"fields": "tid"}, session=shop.session_key)


def test_reauthorizing_the_same_seller_updates_its_tokens(
    client, gateway, oauth_app, alice, tenant_a
):
    seller(gateway, oauth_app, "tea-house")
    client.force_login(alice)
    connect(client, gateway, tenant_a, oauth_app, "tea-house")
    first = Shop.objects.get(seller_nick="tea-house")
    Shop.objects.filter(pk=first.pk).update(status=Shop.Status.NEEDS_REAUTH)
    response = connect(client, gateway, tenant_a, oauth_app, "tea-house")
    assert response.status_code == 302
    again = Shop.objects.get(seller_nick="tea-house")
    assert again.pk == first.pk and Shop.objects.count() == 1
    assert again.session_key != first.session_key and again.refresh_token != first.refresh_token
    assert again.status == Shop.Status.ACTIVE and again.status_reason == ""
    assert again.next_sync_at is not None


@pytest.mark.parametrize("status", [Shop.Status.PAUSED, Shop.Status.DISABLED])
def test_reauthorizing_keeps_a_paused_or_disabled_shop_stopped(
    client, gateway, oauth_app, alice, tenant_a, status
):
    seller(gateway, oauth_app, "tea-house")
    client.force_login(alice)
    connect(client, gateway, tenant_a, oauth_app, "tea-house")
    first = Shop.objects.get(seller_nick="tea-house")
    first.status, first.status_reason = status, "stopped by ops"
    Shop.objects.filter(pk=first.pk).update(status=status, status_reason="stopped by ops")
    schedules.sync_schedules(first)
    response = connect(client, gateway, tenant_a, oauth_app, "tea-house")
    assert response.status_code == 302
    again = Shop.objects.get(pk=first.pk)
    assert again.session_key != first.session_key and again.refresh_token != first.refresh_token
    assert (again.status, again.status_reason) == (status, "stopped by ops")
    assert again.next_sync_at is None and again.next_reconcile_at is None
    page = client.get(response["Location"])
    assert f"stays {again.get_status_display().lower()}" in page.content.decode()


def test_a_seller_of_another_tenant_is_refused(
    client, gateway, oauth_app, alice, charlie, tenant_a, tenant_b
):
    seller(gateway, oauth_app, "tea-house")
    client.force_login(alice)
    connect(client, gateway, tenant_a, oauth_app, "tea-house")
    kept = Shop.objects.get(seller_nick="tea-house")
    other = Client()
    other.force_login(charlie)
    response = connect(other, gateway, tenant_b, oauth_app, "tea-house")
    assert response.status_code == 400
    assert "already connected by another tenant" in response.content.decode()
    now = Shop.objects.get(seller_nick="tea-house")
    assert now.tenant == tenant_a and now.session_key == kept.session_key


def callback_with(client, path: str, **changes) -> int:
    split = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    query.update(changes)
    return client.get(split.path, query).status_code


def test_forged_replayed_foreign_and_expired_states_are_refused(
    client, gateway, oauth_app, alice, dave, tenant_a
):
    seller(gateway, oauth_app, "tea-house")
    client.force_login(alice)
    path = authorize(gateway, start(client, tenant_a, oauth_app), "tea-house")
    state = parse_qs(urlsplit(path).query)["state"][0]
    assert callback_with(client, path, state=state[:-2] + "xx") == 400  # forged
    assert callback_with(client, path, state="") == 400
    # the same user in another session (a link planted by someone else): refused
    elsewhere = Client()
    elsewhere.force_login(alice)
    assert elsewhere.get(path).status_code == 400
    # another user of the same tenant: refused
    colleague = Client()
    colleague.force_login(dave)
    assert colleague.get(path).status_code == 400
    # expired: the state was signed too long ago
    import time

    later = time.time() + 3600
    with mock.patch("django.core.signing.time.time", return_value=later):
        assert client.get(path).status_code == 400
    assert not Shop.objects.exists()


def test_state_is_spent_once(client, gateway, oauth_app, alice, tenant_a):
    seller(gateway, oauth_app, "tea-house")
    client.force_login(alice)
    path = authorize(gateway, start(client, tenant_a, oauth_app), "tea-house")
    assert client.get(path).status_code == 302
    assert client.get(path).status_code == 400  # replayed


def test_denied_authorization_creates_nothing(client, gateway, oauth_app, alice, tenant_a):
    client.force_login(alice)
    location = start(client, tenant_a, oauth_app)
    gateway.control("oauth", {"deny": True})
    back = urlsplit(requests.get(location, allow_redirects=False, timeout=10).headers["Location"])
    response = client.get(f"{back.path}?{back.query}", follow=True)
    assert "did not authorize" in response.content.decode()
    assert not Shop.objects.exists()


def test_viewers_and_other_tenants_cannot_start(client, oauth_app, alice, bob, tenant_b):
    client.force_login(bob)
    assert client.get(CONNECT).status_code == 403
    assert client.post(CONNECT, {"tenant": 1, "app": oauth_app.pk}).status_code == 403
    client.force_login(alice)  # alice may connect, but only to her tenant: the form fills it in
    response = client.post(CONNECT, {"tenant": tenant_b.pk, "app": oauth_app.pk})
    assert response.status_code == 302
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    assert signing.loads(state, salt=STATE_SALT)["t"] == alice.membership_set.get().tenant_id
    assert client.get("/admin/shops/shop/add/").status_code == 302
