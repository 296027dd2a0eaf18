"""The dashboard: shops with problems first, a 24-hour SVG chart per shop, the API budget."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from ordersync.taobao.models import ApiBudget
from shops.models import Checkpoint, Shop, SyncRun

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/dashboard/"


def run(shop, hours_ago: float, written: int, calls: int = 2) -> None:
    r = SyncRun.objects.create(
        shop=shop,
        stream="trades",
        kind=SyncRun.Kind.INCREMENTAL,
        outcome=SyncRun.Outcome.SUCCEEDED,
        trades_written=written,
        api_calls=calls,
    )
    SyncRun.objects.filter(pk=r.pk).update(started_at=timezone.now() - timedelta(hours=hours_ago))


@pytest.fixture
def shops(world, top_app, tenant_a):
    healthy = world["a"]["shop"]
    broken = Shop.objects.create(
        tenant=tenant_a,
        app=top_app,
        seller_nick="broken-shop",
        seller_id=3003,
        status=Shop.Status.NEEDS_REAUTH,
        status_reason="SessionInvalid: invalid-sessionkey",
    )
    Checkpoint.objects.filter(shop=healthy).update(
        cursor=timezone.now() - timedelta(minutes=4), last_success_at=timezone.now()
    )
    Checkpoint.objects.filter(shop=healthy).update(consecutive_failures=0)
    for hours_ago, written in ((0.2, 40), (1.5, 10), (5, 25), (30, 999)):
        run(healthy, hours_ago, written)
    return healthy, broken


def test_dashboard_lists_problems_first_with_a_chart(client, shops, alice):
    healthy, broken = shops
    client.force_login(alice)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("broken-shop") < html.index("seller-a")
    assert "needs re-authorization" in html and "seller-b" not in html
    charts = re.findall(r'<svg class="trades-chart".*?</svg>', html, re.S)
    assert len(charts) == 2
    healthy_chart = charts[1]
    # 40 + 10 + 25 + the fixture's failed run's 2; the run 30 hours ago is out of the chart
    assert "77 trades synced in the last 24 hours" in healthy_chart
    bars = re.findall(r"<rect x=", healthy_chart)
    assert len(bars) in (3, 4)  # the fixture's run may share the newest run's hour
    assert "API budget" not in html  # the app's budget is for operators


def test_operator_sees_every_tenant_and_the_budget(client, shops, operator, top_app):
    ApiBudget.objects.create(
        app_key=top_app.app_key, state={"tokens": 12.5, "waits": 7, "bans": {}}
    )
    client.force_login(operator)
    response = client.get(DASHBOARD)
    html = response.content.decode()
    assert "Tenant A" in html and "Tenant B" in html and "seller-b" in html
    assert "API budget by app" in html and "12.5" in html
    # calls of the last hour: the 0.2 h run (2 calls) and the fixture's runs of A and B (3 each)
    (budget,) = response.context["budgets"]
    assert (budget.calls_last_hour, budget.budget_per_hour, budget.waits) == (8, 36000, 7)
    assert re.search(r"<td>8</td>\s*<td>36,000</td>", html)  # grouped by thousands


def test_index_links_the_dashboard(client, alice, bob):
    client.force_login(alice)
    html = client.get("/admin/").content.decode()
    assert DASHBOARD in html and "Connect a Taobao shop" in html
    client.force_login(bob)
    html = client.get("/admin/").content.decode()
    assert DASHBOARD in html and "Connect a Taobao shop" not in html


def test_dashboard_needs_a_staff_login(client):
    assert client.get(DASHBOARD).status_code == 302
