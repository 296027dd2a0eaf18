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
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from shops.actions import ensure_checkpoints
from shops.console import paginator
from shops.models import Checkpoint, Membership, Shop, SyncRun
from shops.schedules import sync_schedules
from tests.support import ROOT
from tests.support.console import T0, bulk_trades, make_trade, one_of_each, record_history
from trades.models import Trade, TradeLine
from trades.sync.runs import evaluate_health
from trades.webhooks.delivery import connection_error
from trades.webhooks.endpoints import create_endpoint, send_test_event
from trades.webhooks.models import WebhookAttempt

SHOTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
NICK = "tea-house"
TIMEOUT_MS = 15_000
LAPTOP_WIDTH = 1366

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
        # a 1366-px laptop: the console's lists must fit its width
        context = browser.new_context(viewport={"width": LAPTOP_WIDTH, "height": 900})
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
    # alice writes to one tenant: the form fills it in, she never picks it from a list
    tenant = page.locator("#id_tenant")
    assert tenant.get_attribute("type") == "hidden"
    assert tenant.get_attribute("value") == str(alice.membership_set.get().tenant_id)
    assert "created in Tenant A" in page.locator("#content").inner_text()
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


# every list of the console
LISTS = [
    "trades/trade/",
    "trades/refund/",
    "trades/reconcilereport/",
    "shops/shop/",
    "shops/syncrun/",
    "shops/checkpoint/",
    "shops/membership/",
    "shops/tenant/",
    "shops/topapp/",
    "trades/webhookdelivery/",
    "trades/webhookendpoint/",
    "trades/apikey/",
    "trades/tmcshop/",
    "trades/tmcstat/",
    "trades/presalereservation/",
    "trades/stalledparcel/",
]


OPERATORS_ONLY = {"shops/topapp/", "trades/tmcstat/"}


def fits_at(page, base: str, path: str) -> bool:
    page.goto(f"{base}/admin/{path}")
    if fits(page):
        return True
    shot(page, "too-wide-" + path.replace("/", "-").strip("-"))
    return False


def fits(page) -> bool:
    """Whether the page, and the list's own scrolling box, need no sideways scrolling."""
    return page.evaluate(
        """() => document.documentElement.scrollWidth <= window.innerWidth &&
            [...document.querySelectorAll('#changelist .results')].every(
                box => box.scrollWidth <= box.clientWidth)"""
    )


def sign_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def seed_console(shop) -> dict:
    """What support looks for: 2,550 trades, three with buyers and (masked) receivers, one
    with sub-orders and a status history; a failing run; a webhook delivery that failed."""
    bulk_trades(shop, 100_000, 2_550)
    people = [
        (3900000000000016884, "tea-lover", "AAHm5xk", "王*", "*******5678"),
        (3900000000000016885, "coffee-fan", "AAFz2pq", "李*", "138********"),
        (3900000000000099999, "tea-master", "AAQq8zz", "张*", "*******1234"),
    ]
    for index, (tid, nick, uid, name, mobile) in enumerate(people):
        trade = make_trade(shop, tid, minutes=60 * 24 * index)
        trade.buyer_nick, trade.buyer_open_uid = nick, uid
        trade.payload = {**trade.payload, "receiver_name": name, "receiver_mobile": mobile}
        trade.save()
    first = Trade.objects.get(tid=people[0][0])
    TradeLine.objects.create(trade=first, oid=people[0][0] + 1, title="龙井 250 g", num=2)
    record_history(
        first, [(None, "WAIT_BUYER_PAY", 0), ("WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS", 7)]
    )
    run = SyncRun.objects.create(shop=shop, stream="trades", kind="incremental", outcome="failed")
    SyncRun.objects.filter(pk=run.pk).update(
        started_at=T0,
        finished_at=T0 + timedelta(seconds=42),
        window_start=T0 - timedelta(minutes=35),
        window_end=T0 - timedelta(minutes=5),
        error_class="Transient",
        error_message="HTTP 502 Bad Gateway",
    )
    endpoint = create_endpoint(
        shop.tenant, "https://hooks.nowhere.invalid/orders", ["trade.created"]
    )
    delivery = send_test_event(endpoint.endpoint)
    unresolved = OSError("Failed to resolve")
    unresolved.__cause__ = socket.gaierror(-2, "Name or service not known")
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=T0,
        duration_ms=3,
        outcome="connection_error",
        error=connection_error(unresolved, endpoint.endpoint.url),
    )
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=2,
        started_at=T0 + timedelta(minutes=1),
        duration_ms=40,
        outcome="http_error",
        status_code=503,
        response_body='{"error": "maintenance"}',
        error="HTTP 503",
    )
    # a row of every other list (refunds, reports, keys…), of another shop of the tenant
    other = Shop.objects.create(
        tenant=shop.tenant, app=shop.app, seller_nick="seller-c", seller_id=3003, session_key="c"
    )
    world = one_of_each(other, 4_000_001)
    return {
        "trade": first,
        "run": SyncRun.objects.get(pk=run.pk),
        "delivery": delivery,
        "world": world,
    }


def record_runs(shop, minutes_ago: list[tuple[int, str]]) -> None:
    """Finished trade runs of ``shop`` that started that many minutes ago, oldest first."""
    now = timezone.now()
    for ago, outcome in minutes_ago:
        run = SyncRun.objects.create(shop=shop, stream="trades", kind="incremental")
        at = now - timedelta(minutes=ago)
        failed = outcome == "failed"
        SyncRun.objects.filter(pk=run.pk).update(
            outcome=outcome,
            started_at=at,
            finished_at=at + timedelta(seconds=5),
            error_class="Transient" if failed else "",
            error_message="HTTP 502" if failed else "",
        )
        evaluate_health(shop)


def test_the_console_answers_support_operators_and_owners(
    browser_page, live_server, alice, bob, shop_a, settings, monkeypatch
):
    """Items of the console walked in a browser at 1366 px: finding trades with true counts,
    times in platform time with the zone, pages that answer the next question, members,
    and degraded mode that a blip does not trigger."""
    page, base = browser_page, live_server.url
    ensure_checkpoints(shop_a)
    sync_schedules(shop_a)
    seeded = seed_console(shop_a)
    sign_in(page, base, "alice")

    # find a trade: true counts, partial tid, buyer, receiver, status, time range
    trades = f"{base}/admin/trades/trade/"
    page.goto(trades)
    assert page.locator(".paginator .result-count").inner_text() == "2,556"
    assert fits(page), "the trade list is wider than a 1366-px laptop"
    shot(page, "10-trades-1366px")
    for term, expected in [
        ("390000000000001688", {3900000000000016884, 3900000000000016885}),
        ("tea-", {3900000000000016884, 3900000000000099999}),
        ("AAFz2pq", {3900000000000016885}),
        ("王", {3900000000000016884}),
        ("5678", {3900000000000016884}),
    ]:
        page.goto(trades)
        page.fill("#searchbar", term)
        with page.expect_navigation():
            page.click("#changelist-search input[type=submit]")
        assert listed_tids(page) == expected, term
        counted = page.locator("#changelist-search .result-count").inner_text()
        assert counted == str(len(expected))
    assert "clear the search and filters" in page.locator("#changelist-search").inner_text()
    assert "Show all" not in page.locator("#content").inner_text()
    shot(page, "11-trade-search")
    page.goto(trades)
    created = page.locator("details[data-filter-title='created'] form.date-range")
    created.locator("input[name=created__gte]").fill("2026-11-12")
    created.locator("input[name=created__lt]").fill("2026-11-13")
    with page.expect_navigation():
        created.locator("input[type=submit]").click()
    assert listed_tids(page) == {3900000000000016885}
    page.goto(f"{trades}?status=WAIT_SELLER_SEND_GOODS&q=tea-")
    assert listed_tids(page) == {3900000000000016884, 3900000000000099999}
    monkeypatch.setattr(paginator, "EXACT_COUNT_LIMIT", 1_000)
    page.goto(trades)
    assert page.locator(".paginator .result-count").inner_text().startswith("about ")
    shot(page, "12-trades-estimated-count")
    monkeypatch.setattr(paginator, "EXACT_COUNT_LIMIT", 10_000)

    # a trade: sub-orders, then the status history from the feed, then the raw JSON; times
    # in platform time with the zone
    page.goto(f"{trades}{seeded['trade'].pk}/change/")
    text = page.locator("#content").inner_text()
    assert text.index("龙井 250 g") < text.index("Status history") < text.index("Raw")
    assert "WAIT_BUYER_PAY" in text and "(new)" in text and "11-11 10:07:00" in text
    assert "2026-11-11 10:00:00 CST" in text  # created, in Asia/Shanghai with its zone
    shot(page, "13-trade-page")

    # a sync run: start, duration, exact window
    page.goto(f"{base}/admin/shops/syncrun/{seeded['run'].pk}/change/")
    text = page.locator("#content").inner_text()
    assert "2026-11-11 10:00:00 +08:00" in text and "42.0 s" in text
    assert "2026-11-11 09:25:00 +08:00 → 2026-11-11 09:55:00 +08:00 (30 min 0 s)" in text
    shot(page, "14-sync-run")
    page.goto(f"{base}/admin/shops/syncrun/")
    assert fits(page)

    # a webhook delivery: the body sent, what came back, a readable error
    page.goto(f"{base}/admin/trades/webhookdelivery/{seeded['delivery'].pk}/change/")
    text = page.locator("#content").inner_text()
    assert '"type": "webhook.test"' in text and '"created": "' in text and "+08:00" in text
    assert "could not resolve host hooks.nowhere.invalid" in text and "Errno" not in text
    assert '{"error": "maintenance"}' in text
    shot(page, "15-webhook-delivery")
    page.goto(f"{base}/admin/trades/presalereservation/")  # reserved stock, with its totals
    assert "2 units held by 1 trades" in page.locator(".presale-totals").inner_text()
    page.goto(f"{base}/admin/trades/stalledparcel/")  # the parcels the carrier left alone
    row = page.locator("#result_list tbody tr").first
    assert "YTO4000007" in row.inner_text() and "卖家已发货" in row.inner_text()
    assert fits(page)
    shot(page, "15b-stalled-parcels")
    page.goto(f"{base}/admin/trades/webhookdelivery/")
    assert fits(page)

    # a shop: healthy in words, its next sync; a blip does not degrade it, sustained
    # failure does and says why and since when
    shops = f"{base}/admin/shops/shop/"
    # a blip: two failed runs of six (one a manual sync in the same 502 burst), then success
    record_runs(shop_a, [(70, "succeeded"), (65, "failed"), (64, "failed"), (60, "succeeded")])
    record_runs(shop_a, [(55, "succeeded"), (50, "succeeded")])
    page.goto(shops)
    row = page.locator("#result_list tr", has_text="seller-a")
    assert row.locator("td.field-sync_mode").inner_text() == "healthy"
    assert row.locator("td.field-sync_mode img").count() == 0  # no red ✗
    assert row.locator("td.field-next_run").inner_text() not in ("", "not scheduled")
    assert fits(page)
    shot(page, "16-shops-healthy")
    # sustained: every run fails for 20 minutes
    record_runs(shop_a, [(ago, "failed") for ago in (25, 20, 15, 10, 5)])
    page.goto(shops)
    row = page.locator("#result_list tr", has_text="seller-a")
    assert row.locator("td.field-sync_mode").inner_text() == "degraded"
    page.goto(f"{shops}{shop_a.pk}/change/")
    text = page.locator("#content").inner_text()
    assert "trades: all 5 runs failed over 20 min since" in text and "HTTP 502" in text
    assert re.search(r"degraded since:?\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", text, re.I)
    assert page.locator("text=Re-authorize seller-a").count() == 1
    shot(page, "17-shop-degraded")

    # members: alice invites frank (the tenant is filled in), removes bob
    page.goto(f"{base}/admin/shops/membership/add/")
    assert page.locator("#id_tenant").get_attribute("type") == "hidden"
    page.fill("#id_username", "frank")
    page.fill("#id_email", "frank@example.com")
    page.select_option("#id_role", "viewer")
    with page.expect_navigation():
        page.click("input[name=_save]")
    password = page.locator("code.one-time-secret").inner_text()
    assert get_user_model().objects.get(username="frank").check_password(password)
    page.check(f"input[name=_selected_action][value='{Membership.objects.get(user=bob).pk}']")
    page.select_option("select[name=action]", "remove_members")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert "Removed 1 member(s)." in page.locator(".messagelist").inner_text()
    assert not Membership.objects.filter(user=bob).exists()
    shot(page, "18-members")

    # "View site" opens the API docs; the bare address opens the console
    page.goto(f"{base}/admin/")
    href = page.locator("#user-tools a", has_text="View site").get_attribute("href")
    assert href == "/api/docs/"
    assert page.goto(f"{base}{href}").status == 200
    page.goto(f"{base}/")
    assert page.url == f"{base}/admin/"

    # every list fits the laptop, for the owner
    assert [
        path for path in LISTS if path not in OPERATORS_ONLY and not fits_at(page, base, path)
    ] == []

    # an operator sees every tenant, with a tenant column, still within the laptop's width
    get_user_model().objects.create_superuser("olga", password="pw-olga")
    sign_in(page, base, "olga")
    assert [path for path in LISTS if not fits_at(page, base, path)] == []
    shot(page, "19-operator-deliveries")


# --- the console in Chinese -----------------------------------------------------------------
DOC_SHOTS = ROOT / "docs" / "img"
ZH_SHOTS = SHOTS / "zh"
# words that stay as they are in the Chinese console: names of things, protocols, formats
KEPT_WORDS = {
    "ordersync", "OAuth", "Webhook", "English", "open", "uid", "incrementv", "Location",
    "Gone", "Bearer", "AppKey", "AppSecret", "SessionKey", "md", "hmac", "sha", "rds", "tid",
    "Parquet",
}  # fmt: skip
# Django's own admin strings its zh_Hans catalogue lacks (screen-reader headers of the index)
# and the boolean icons' alt text, which Django never translates
DJANGO_ENGLISH = re.compile(r"Model name|Add link|Change or view list link|\b(?:True|False)\b")
# text a person reads: visible text nodes outside code and preformatted data, and the
# attributes a browser shows (tooltips, placeholders, button labels)
SHOWN_TEXT = """() => {
  const parts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const data = 'pre, code, script, style, noscript, textarea, .one-time-secret';
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (!parent || parent.closest(data) || !parent.checkVisibility()) continue;
    parts.push(walker.currentNode.textContent);
  }
  for (const el of document.querySelectorAll('[title], [placeholder], [aria-label], [alt]')) {
    for (const name of ['title', 'placeholder', 'aria-label', 'alt']) {
      if (el.getAttribute(name)) parts.push(el.getAttribute(name));
    }
  }
  for (const el of document.querySelectorAll('input[type=submit], input[type=button]')) {
    parts.push(el.value);
  }
  return parts.join('\\n');
}"""


def data_words() -> set[str]:
    """Every word stored in our tables' text columns: shop nicks, tenant and user names,
    titles, the platform's error messages… shown as they are, in any language."""
    from django.apps import apps
    from django.db import models as db_models

    found = set(get_user_model().objects.values_list("username", flat=True))
    for model in apps.get_models():
        if model._meta.app_label not in ("shops", "trades", "taobao") or model._meta.proxy:
            continue
        texts = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, db_models.CharField | db_models.TextField)
        ]
        for row in model.objects.values_list(*texts)[:5000] if texts else []:
            found.update(word for value in row for word in re.findall(r"[A-Za-z]+", value or ""))
    return found


def english_words(text: str, allowed: set[str]) -> set[str]:
    """Words of English left in ``text``: not a code (``WAIT_BUYER_PAY``, ``API``), an
    address, an identifier, a kept name or a stored value."""
    found = set()
    for chunk in text.split():
        chunk = chunk.strip("()[]{}（）【】「」“”\"'.,;:!?，。；：、…—›·|/%+*")
        if not chunk or re.search(r"[_@=/\\.:0-9]", chunk):
            continue
        for word in re.findall(r"[A-Za-z]+", chunk):
            if len(word) > 1 and not word.isupper() and word not in allowed:
                found.add(word)
    return found


def walk_in_chinese(page, url: str, name: str, allowed: set[str]) -> set[str]:
    """Open ``url``, screenshot it, and return the English words of ours it shows."""
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    assert page.locator("html").get_attribute("lang") == "zh-hans", url
    page.screenshot(path=str(ZH_SHOTS / f"zh-{name}.png"))
    return english_words(DJANGO_ENGLISH.sub("", page.evaluate(SHOWN_TEXT)), allowed)


# the pages docs/console.md shows
IN_THE_DOCS = ("dashboard", "shops", "trade", "sync-runs", "reconcile-reports", "webhooks")
IN_THE_DOCS += ("api-keys", "connect")


def keep_for_docs() -> None:
    """``DOCS_SCREENSHOTS=1``: the Chinese screenshots become the docs' (docs/console.md)."""
    if os.environ.get("DOCS_SCREENSHOTS") != "1":
        return
    DOC_SHOTS.mkdir(parents=True, exist_ok=True)
    for name in IN_THE_DOCS:
        (DOC_SHOTS / f"zh-{name}.png").write_bytes((ZH_SHOTS / f"zh-{name}.png").read_bytes())


def chinese_pages(base: str, seeded: dict, shop) -> list[tuple[str, str]]:
    world = seeded["world"]
    admin = f"{base}/admin"
    return [
        ("index", f"{admin}/"),
        ("dashboard", f"{admin}/dashboard/"),
        ("shops", f"{admin}/shops/shop/"),
        ("shop", f"{admin}/shops/shop/{shop.pk}/change/"),
        ("trades", f"{admin}/trades/trade/"),
        ("trade", f"{admin}/trades/trade/{seeded['trade'].pk}/change/"),
        ("refunds", f"{admin}/trades/refund/"),
        ("refund", f"{admin}/trades/refund/{world['refund'].pk}/change/"),
        ("sync-runs", f"{admin}/shops/syncrun/"),
        ("sync-run", f"{admin}/shops/syncrun/{seeded['run'].pk}/change/"),
        ("checkpoints", f"{admin}/shops/checkpoint/"),
        ("reconcile-reports", f"{admin}/trades/reconcilereport/"),
        ("reconcile-report", f"{admin}/trades/reconcilereport/{world['reconcilereport'].pk}/"),
        ("webhooks", f"{admin}/trades/webhookendpoint/"),
        ("webhook", f"{admin}/trades/webhookendpoint/{world['webhookendpoint'].pk}/change/"),
        ("deliveries", f"{admin}/trades/webhookdelivery/"),
        ("delivery", f"{admin}/trades/webhookdelivery/{seeded['delivery'].pk}/change/"),
        ("api-keys", f"{admin}/trades/apikey/"),
        ("api-key-new", f"{admin}/trades/apikey/add/"),
        ("members", f"{admin}/shops/membership/"),
        ("presale", f"{admin}/trades/presalereservation/"),
        ("tmc", f"{admin}/trades/tmcshop/"),
        ("jdp", f"{admin}/trades/jdpshop/"),
        ("channels", f"{admin}/trades/shopchannels/"),
        ("connect", f"{admin}/shops/shop/connect/"),
    ]  # fmt: skip


def test_the_console_in_chinese_shows_no_english_of_ours(
    browser_page, live_server, alice, shop_a, gateway, sandbox_app, settings
):
    """The console walked in Chinese (LANGUAGE_CODE=zh-hans, as the demo runs): dashboard,
    shops, a trade, sync runs, reconcile reports, webhooks, API keys, connecting a shop. No
    page shows an English word of ours; the language switch then turns it into English."""
    page, base = browser_page, live_server.url
    settings.LANGUAGE_CODE = "zh-hans"
    ZH_SHOTS.mkdir(parents=True, exist_ok=True)
    if os.environ.get("CI", "").lower() == "true":  # else Chinese shows as boxes in the shots
        assert subprocess.run(["fc-list", ":lang=zh"], capture_output=True).stdout, "no CJK font"
    ensure_checkpoints(shop_a)
    sync_schedules(shop_a)
    seeded = seed_console(shop_a)
    Shop.objects.create(  # the banner: a shop whose seller must authorize again
        tenant=shop_a.tenant, app=shop_a.app, seller_nick="seller-d", seller_id=3004,
        status=Shop.Status.NEEDS_REAUTH,
    )  # fmt: skip
    record_runs(shop_a, [(ago, "failed") for ago in (25, 20, 15, 10, 5)])  # degraded
    behind = timezone.now() - timedelta(minutes=45, seconds=20)  # the lag, in words
    Checkpoint.objects.filter(shop=shop_a, stream="trades").update(cursor=behind)

    page.goto(f"{base}/admin/login/")
    assert "ordersync 控制台" in page.locator("#site-name").inner_text()
    page.screenshot(path=str(ZH_SHOTS / "zh-login.png"))
    sign_in(page, base, "alice")
    allowed = KEPT_WORDS | data_words()
    found = {
        name: words
        for name, url in chinese_pages(base, seeded, shop_a)
        if (words := walk_in_chinese(page, url, name, allowed))
    }
    assert found == {}, f"English words of ours on the Chinese console: {found}"
    page.goto(f"{base}/admin/dashboard/")
    assert "落后 45 分钟" in page.locator("#content").inner_text()

    # an action's form and its message
    page.goto(f"{base}/admin/shops/shop/{shop_a.pk}/change/")
    page.click("button:has-text('立即同步')")
    assert (
        "已为 1 个店铺排队同步。" in page.locator("ul.messagelist:not(#reauth-banner)").inner_text()
    )

    # connecting a shop through the sandbox's OAuth, in Chinese
    sandbox_app.authorize_url = f"{gateway.url}/authorize"
    sandbox_app.token_url = f"{gateway.url}/token"
    sandbox_app.save()
    gateway.control("sellers", {"app_key": sandbox_app.app_key, "nick": "tea-house-zh"})
    gateway.control("oauth", {"nick": "tea-house-zh"})
    page.goto(f"{base}/admin/shops/shop/connect/")
    page.select_option("#id_app", str(sandbox_app.pk))
    page.click("input[type=submit][value='前往淘宝授权']")
    page.wait_for_url(re.compile(r"/admin/shops/shop/\d+/change/$"))
    assert (
        "已接入 tea-house-zh，历史回补已排队。"
        in page.locator("ul.messagelist:not(#reauth-banner)").inner_text()
    )
    page.screenshot(path=str(ZH_SHOTS / "zh-connected.png"))
    assert english_words(page.evaluate(SHOWN_TEXT), allowed | data_words()) == set()
    keep_for_docs()

    # the switch: English for this user, then back
    page.goto(f"{base}/admin/dashboard/")
    with page.expect_navigation():
        page.select_option("#language-choice", "en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Dashboard" in page.locator("#content").inner_text()
    with page.expect_navigation():
        page.select_option("#language-choice", "zh-hans")
    assert "仪表盘" in page.locator(".breadcrumbs").inner_text()
