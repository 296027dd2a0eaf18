"""The admin as a tenant admin sees it, in headless Chromium against a live server.

Alice (owner of tenant A) logs in, connects a shop through the sandbox's OAuth, watches its
trades appear once the queued backfill and a "Sync now" have run, and gets a 404 on tenant
B's shop. Each step leaves a screenshot in ``artifacts/browser/``.

The browser is Debian's ``chromium`` (``.ci/run`` installs it). Outside CI a machine without
it skips this test; in CI (``CI=true``) a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.db import connections
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from shops.models import Shop, SyncRun
from tests.support import ROOT
from trades.models import Trade

SHOTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
NICK = "tea-house"
TIMEOUT_MS = 15_000

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def require_browser():
    """Playwright's sync API, or a skip (a failure in CI) saying what is missing."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[dev]')"
    if missing is None and not CHROMIUM.is_file():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if missing is None:
        return sync_playwright
    if in_ci:
        pytest.fail(f"browser test cannot run in CI: {missing}")
    pytest.skip(missing)


@pytest.fixture
def browser_page(monkeypatch):
    sync_playwright = require_browser()
    # Playwright's sync API keeps an event loop running on this thread, which Django takes for
    # an async context; the test's ORM calls (setup, running the queued jobs) are synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        yield page
        context.close()
        browser.close()
        # Code run inside Playwright's context gets its own database connections: close them
        # here, or the test database cannot be dropped at the end of the session.
        connections.close_all()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def run_queued_jobs() -> list[str]:
    """Do what a worker would: run each queued task in order, then drop it from the queue."""
    ran = []
    for queued in OrmQ.objects.order_by("id"):
        task = queued.task
        import_string(task["func"])(*task["args"], **task["kwargs"])
        ran.append(task["func"].rsplit(".", 1)[1])
        queued.delete()
    return ran


def listed_tids(page) -> set[int]:
    return {int(t) for t in page.locator("#result_list tbody th.field-tid").all_inner_texts()}


def test_tenant_admin_connects_a_shop_and_sees_its_trades(
    browser_page, live_server, gateway, sandbox_app, alice, charlie, tenant_b, settings
):
    page = browser_page
    settings.BACKFILL_DAYS = 12  # the seller's history is 10 days deep
    sandbox_app.authorize_url = f"{gateway.url}/authorize"
    sandbox_app.token_url = f"{gateway.url}/token"
    sandbox_app.save()
    gateway.control(
        "sellers",
        {"app_key": sandbox_app.app_key, "nick": NICK, "history_trades": 40, "history_days": 10},
    )
    other = gateway.control("sellers", {"app_key": sandbox_app.app_key, "nick": "b-shop"})
    foreign = Shop.objects.create(
        tenant=tenant_b,
        app=sandbox_app,
        seller_nick="b-shop",
        seller_id=other["user_id"],
        session_key=other["session"],
    )
    base = live_server.url

    # 1. log in
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    assert "alice" in page.locator("#user-tools").inner_text().lower()
    shot(page, "01-logged-in")

    # 2. the shops list offers to connect one; tenant B's shop is not listed
    page.goto(f"{base}/admin/shops/shop/")
    assert "b-shop" not in page.locator("#content").inner_text()
    page.click("text=Connect a Taobao shop")
    page.wait_for_url(re.compile(r"/admin/shops/shop/connect/$"))
    tenants = page.locator("#id_tenant option").all_inner_texts()
    assert tenants == ["Tenant A"], tenants
    shot(page, "02-connect-form")

    # 3. through the sandbox's /authorize (the seller approves) and back to the new shop
    gateway.control("oauth", {"nick": NICK})
    with page.expect_request(re.compile(rf"^{re.escape(gateway.url)}/authorize\?")) as sent:
        page.click("input[type=submit][value='Continue to Taobao']")
    assert f"client_id={sandbox_app.app_key}" in sent.value.url
    page.wait_for_url(re.compile(r"/admin/shops/shop/\d+/change/$"))
    shop = Shop.objects.get(app=sandbox_app, seller_nick=NICK)
    assert page.url == f"{base}/admin/shops/shop/{shop.pk}/change/"
    assert (shop.tenant.slug, shop.status) == ("tenant-a", Shop.Status.ACTIVE)
    assert f"Connected {NICK}; its backfill is queued." in page.locator(".messagelist").inner_text()
    shot(page, "03-shop-connected")

    # 4. no trades yet: the backfill is only queued
    trades_url = f"{base}/admin/trades/trade/?shop={shop.pk}"
    page.goto(trades_url)
    assert listed_tids(page) == set()
    shot(page, "04-trades-before-sync")

    # 5. a worker runs the queued backfill; "Sync now" queues an incremental sync on top
    assert run_queued_jobs() == ["backfill_shop_task"]
    page.goto(f"{base}/admin/shops/shop/{shop.pk}/change/")
    page.click("button:has-text('Sync now')")
    assert "Queued sync for 1 shop(s)." in page.locator(".messagelist").inner_text()
    assert run_queued_jobs() == ["sync_shop_task"]
    outcomes = set(SyncRun.objects.filter(shop=shop).values_list("kind", "outcome"))
    assert {outcome for _, outcome in outcomes} == {SyncRun.Outcome.SUCCEEDED}, outcomes
    page.reload()
    shot(page, "05-shop-after-sync")

    # 6. the trades are in the list: exactly the sandbox's trades of this seller
    oracle = set(gateway.oracle_trades(NICK))
    assert len(oracle) == 40
    assert set(Trade.objects.filter(shop=shop).values_list("tid", flat=True)) == oracle
    page.goto(trades_url)
    assert listed_tids(page) == oracle
    shot(page, "06-trades-after-sync")

    # 7. tenant B's shop, by URL: not found
    response = page.goto(f"{base}/admin/shops/shop/{foreign.pk}/change/")
    assert response is not None and response.status == 404
    shot(page, "07-other-tenant-shop-404")
