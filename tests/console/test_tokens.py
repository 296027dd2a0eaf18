"""Sessions are refreshed before they expire; a refused refresh marks the shop needs_reauth."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone
from django_q.models import Schedule

from ordersync.taobao import oauth
from shops import tasks
from shops.actions import onboard_shop
from shops.models import Shop
from shops.onboarding import refresh_shop_token
from shops.top import app_credentials, client_for_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def authorized(gateway, sandbox_app, tenant_a):
    """A shop onboarded with real tokens from the sandbox's code grant."""
    sandbox_app.authorize_url = f"{gateway.url}/authorize"
    sandbox_app.token_url = f"{gateway.url}/token"
    sandbox_app.save()
    gateway.control("sellers", {"app_key": sandbox_app.app_key, "nick": "tea-house"})
    gateway.control("oauth", {"nick": "tea-house"})
    import requests

    location = requests.get(
        f"{gateway.url}/authorize",
        params={"client_id": sandbox_app.app_key, "redirect_uri": "http://x/cb"},
        allow_redirects=False,
        timeout=10,
    ).headers["Location"]
    code = location.split("code=")[1].split("&")[0]
    token = oauth.exchange_code(app_credentials(sandbox_app), code, "http://x/cb")
    shop, _ = onboard_shop(
        tenant=tenant_a,
        app=sandbox_app,
        seller_nick=token.taobao_user_nick,
        seller_id=int(token.taobao_user_id),
        session_key=token.access_token,
        refresh_token=token.refresh_token,
        session_expires_at=token.expires_at,
        refresh_expires_at=token.refresh_expires_at,
        backfill=False,
    )
    return shop


def expiring(shop: Shop, hours: float = 1) -> None:
    Shop.objects.filter(pk=shop.pk).update(
        session_expires_at=timezone.now() + timedelta(hours=hours)
    )


def test_refresh_before_expiry_rotates_the_tokens(authorized):
    before = Shop.objects.get(pk=authorized.pk)
    assert tasks.refresh_tokens() == {}  # not due: nothing is called
    expiring(authorized)
    assert tasks.refresh_tokens() == {"refreshed": 1}
    after = Shop.objects.get(pk=authorized.pk)
    assert after.session_key != before.session_key
    assert after.refresh_token != before.refresh_token
    assert after.session_expires_at > timezone.now() + timedelta(days=1)
    client_for_shop(after).call(
        "taobao.trades.sold.get", {"fields": "tid"}, session=after.session_key
    )
    assert tasks.refresh_tokens() == {}


def test_a_refused_refresh_marks_needs_reauth_and_shows_the_banner(
    client, authorized, alice, charlie
):
    # the platform refuses the refresh token (revoked, or already spent)
    Shop.objects.filter(pk=authorized.pk).update(refresh_token="7-revoked")
    expiring(authorized)
    assert tasks.refresh_tokens() == {"needs_reauth": 1}
    shop = Shop.objects.get(pk=authorized.pk)
    assert shop.status == Shop.Status.NEEDS_REAUTH
    assert "invalid refresh_token" in shop.status_reason
    assert shop.next_sync_at is None and shop.next_reconcile_at is None
    client.force_login(alice)
    html = client.get("/admin/").content.decode()
    assert 'id="reauth-banner"' in html and "tea-house" in html
    assert f"/admin/shops/shop/connect/?shop={shop.pk}" in html
    client.force_login(charlie)
    assert 'id="reauth-banner"' not in client.get("/admin/").content.decode()


def test_expired_session_without_refresh_token_needs_reauth(authorized):
    Shop.objects.filter(pk=authorized.pk).update(
        refresh_token="", session_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert tasks.refresh_tokens() == {"needs_reauth": 1}
    assert Shop.objects.get(pk=authorized.pk).status == Shop.Status.NEEDS_REAUTH


def test_an_unreachable_platform_leaves_the_shop_for_the_next_run(authorized):
    authorized.app.token_url = "http://127.0.0.1:9/token"
    authorized.app.save()
    expiring(authorized)
    assert tasks.refresh_tokens() == {"failed": 1}
    shop = Shop.objects.get(pk=authorized.pk)
    assert shop.status == Shop.Status.ACTIVE and shop.refresh_token == authorized.refresh_token


@pytest.mark.django_db(transaction=True)
def test_a_refresh_in_progress_elsewhere_is_skipped(authorized):
    """The refresh token rotates, so a second worker must not spend it concurrently."""
    expiring(authorized)
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with transaction.atomic():
            Shop.objects.select_for_update().get(pk=authorized.pk)
            locked.set()
            release.wait(10)
        connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert locked.wait(10)
    try:
        assert refresh_shop_token(authorized.pk) == "locked"
    finally:
        release.set()
        holder.join()
    assert refresh_shop_token(authorized.pk) == "refreshed"


def test_the_refresh_schedule_exists():
    schedule = Schedule.objects.get(name="shops-refresh-tokens")
    assert schedule.func == "shops.tasks.refresh_tokens" and schedule.repeats == -1
