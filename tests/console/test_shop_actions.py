"""Shop actions in the console queue real jobs for the workers, only on the user's shops."""

from __future__ import annotations

from html import unescape

import pytest
from django_q.models import OrmQ

from shops import schedules
from shops.models import Shop

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/shops/shop/"


def queued() -> list[tuple[str, tuple]]:
    tasks = [q.task for q in OrmQ.objects.order_by("id")]
    return [(t["func"], tuple(t["args"])) for t in tasks]


def act(client, action: str, *shops: Shop, **extra):
    data = {"action": action, "_selected_action": [s.pk for s in shops], **extra}
    return client.post(CHANGELIST, data)


def test_sync_now_queues_a_sync(client, alice, shop_a):
    client.force_login(alice)
    assert act(client, "sync_now", shop_a).status_code == 302
    assert queued() == [("trades.tasks.sync_shop_task", (shop_a.pk,))]


def test_backfill_asks_for_days_then_queues(client, alice, shop_a):
    client.force_login(alice)
    form = act(client, "backfill", shop_a)
    assert form.status_code == 200 and b'name="days"' in form.content and queued() == []
    assert act(client, "backfill", shop_a, apply="Queue", days=999).status_code == 200
    assert queued() == []  # more than BACKFILL_DAYS is refused
    assert act(client, "backfill", shop_a, apply="Queue", days=3).status_code == 302
    assert queued() == [("trades.tasks.backfill_shop_task", (shop_a.pk, 3))]


def test_reconcile_asks_for_a_day_then_queues(client, alice, shop_a):
    client.force_login(alice)
    assert b'name="day"' in act(client, "reconcile", shop_a).content
    assert act(client, "reconcile", shop_a, apply="Queue", day="2099-01-01").status_code == 200
    assert act(client, "reconcile", shop_a, apply="Queue", day="2026-11-11").status_code == 302
    assert queued() == [("trades.tasks.reconcile_shop_task", (shop_a.pk, "2026-11-11"))]


def test_pause_and_resume_move_the_schedules(client, alice, shop_a):
    schedules.sync_schedules(shop_a)
    client.force_login(alice)
    act(client, "pause", shop_a)
    shop_a.refresh_from_db()
    assert shop_a.status == Shop.Status.PAUSED
    assert Shop.objects.get(pk=shop_a.pk).next_sync_at is None
    act(client, "sync_now", shop_a)
    assert queued() == []  # a paused shop is not synced
    act(client, "resume", shop_a)
    shop_a.refresh_from_db()
    assert shop_a.status == Shop.Status.ACTIVE
    assert Shop.objects.get(pk=shop_a.pk).next_sync_at is not None


def test_viewer_and_outsider_cannot_act(client, bob, charlie, shop_a):
    client.force_login(bob)
    page = client.get(CHANGELIST)
    assert "sync_now" not in page.content.decode()
    act(client, "sync_now", shop_a)
    client.force_login(charlie)  # another tenant's shop id in the form: nothing happens
    act(client, "sync_now", shop_a)
    act(client, "pause", shop_a)
    assert queued() == []
    shop_a.refresh_from_db()
    assert shop_a.status == Shop.Status.ACTIVE


def test_shop_page_shows_health_buttons_and_last_runs(client, world, alice):
    shop = world["a"]["shop"]
    client.force_login(alice)
    html = client.get(f"{CHANGELIST}{shop.pk}/change/").content.decode()
    for text in ("Sync now", "Backfill…", "Reconcile a day…", "Re-authorize", "Last runs"):
        assert text in html, text
    assert "Traceback (most recent call last):" in html  # the failed run's error, readable
    assert f"/admin/shops/shop/connect/?shop={shop.pk}" in html
    listing = client.get(CHANGELIST).content.decode()
    for column in (
        "Cursor lag",
        "Last success (+08:00)",
        "Fails in a row",
        "Sync mode",
        "Next sync",
    ):
        assert column in listing, column


def test_run_and_report_errors_are_preformatted(client, world, alice):
    client.force_login(alice)
    run = world["a"]["syncrun"]
    html = client.get(f"/admin/shops/syncrun/{run.pk}/change/").content.decode()
    assert "<pre" in html and "Traceback (most recent call last):\n  boom" in html
    report = world["a"]["reconcilereport"]
    html = unescape(
        client.get(f"/admin/trades/reconcilereport/{report.pk}/change/").content.decode()
    )
    assert "<pre" in html and '"missing"' in html


def test_tenant_members_backfill_once_per_cooldown_operators_freely(
    client, alice, operator, shop_a
):
    client.force_login(alice)
    assert act(client, "backfill", shop_a, apply="Queue", days=3).status_code == 302
    page = client.get(CHANGELIST)
    assert "Queued backfill for 1 shop(s)." in unescape(page.content.decode())
    act(client, "backfill", shop_a, apply="Queue", days=3)
    page = unescape(client.get(CHANGELIST).content.decode())
    assert "one queued or running backfill per shop" in page
    assert len(queued()) == 1
    client.force_login(operator)  # an operator is no tenant
    act(client, "backfill", shop_a, apply="Queue", days=3)
    assert len(queued()) == 2
