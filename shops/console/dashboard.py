"""The console's dashboard: every visible shop's health, problems first, the API budget, and
trades synced per shop over the last 24 hours as a small server-rendered SVG chart."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib import admin
from django.db.models import Sum
from django.db.models.functions import TruncHour
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from ordersync.taobao.limiter import TokenBucketLimiter
from ordersync.taobao.models import ApiBudget, ApiCallStat
from shops.console.health import format_lag, lag, problems, severity, with_health
from shops.console.tenancy import scoped
from shops.models import Shop, SyncRun, TopApp

HOURS = 24
CHART_WIDTH, CHART_HEIGHT = 240, 36


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    hour: datetime
    trades: int


@dataclass
class Chart:
    """Hourly bars of trades written; ``total`` over the whole span."""

    bars: list[Bar]
    total: int
    peak: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def hourly_trades(shop_ids: list[int], now: datetime) -> dict[int, dict[datetime, int]]:
    """``{shop_id: {hour: trades written}}`` from the runs of the last day.

    Read through ``syncrun_started_idx``; the run counters are what the workers wrote.
    """
    since = now - timedelta(hours=HOURS)
    rows = (
        SyncRun.objects.filter(shop_id__in=shop_ids, started_at__gte=since)
        .annotate(hour=TruncHour("started_at"))
        .values("shop_id", "hour")
        .annotate(trades=Sum("trades_written"))
    )
    found: dict[int, dict[datetime, int]] = defaultdict(dict)
    for row in rows:
        found[row["shop_id"]][row["hour"]] = row["trades"] or 0
    return found


def chart(per_hour: dict[datetime, int], now: datetime) -> Chart:
    last = now.replace(minute=0, second=0, microsecond=0)
    hours = [last - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    values = [per_hour.get(h, 0) for h in hours]
    peak = max(values) or 1
    slot = CHART_WIDTH / HOURS
    bars = []
    for index, (hour, value) in enumerate(zip(hours, values, strict=True)):
        height = 0 if value == 0 else max(1.0, value / peak * (CHART_HEIGHT - 2))
        bars.append(
            Bar(
                x=round(index * slot + 1, 1),
                y=round(CHART_HEIGHT - height, 1),
                width=round(slot - 2, 1),
                height=round(height, 1),
                hour=hour,
                trades=value,
            )
        )
    return Chart(bars=bars, total=sum(values), peak=max(values))


@dataclass
class ShopRow:
    shop: Shop
    lag: str
    problems: list[str]
    chart: Chart


@dataclass
class TenantSection:
    name: str
    rows: list[ShopRow] = field(default_factory=list)

    @property
    def problem_count(self) -> int:
        return sum(1 for row in self.rows if row.problems)


@dataclass
class Budget:
    app: TopApp
    calls_last_hour: int
    budget_per_hour: int
    tokens: float | None
    bans: list[tuple[str, int]]
    waits: int
    calls_total: int
    errors_total: int

    @property
    def percent(self) -> float:
        return round(100.0 * self.calls_last_hour / max(self.budget_per_hour, 1), 1)


def budgets(now: datetime) -> list[Budget]:
    """Each app's use of its API budget: the last hour's calls, the bucket, bans, waits."""
    hour_ago = now - timedelta(hours=1)
    calls = dict(
        SyncRun.objects.filter(started_at__gte=hour_ago)
        .values("shop__app_id")
        .annotate(n=Sum("api_calls"))
        .values_list("shop__app_id", "n")
    )
    states = {b.app_key: b.state for b in ApiBudget.objects.all()}
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, outcome, n in ApiCallStat.objects.values_list("app_key", "outcome", "calls"):
        totals[key][0] += n
        if outcome != "ok":
            totals[key][1] += n
    wall = time.time()
    out = []
    for app in TopApp.objects.order_by("name"):
        state = states.get(app.app_key, {})
        burst, _rate = TokenBucketLimiter(None, app.calls_per_minute).budget(app.app_key)
        bans = [
            (scope, int(until - wall))
            for scope, until in sorted(state.get("bans", {}).items())
            if until > wall
        ]
        out.append(
            Budget(
                app=app,
                calls_last_hour=calls.get(app.pk) or 0,
                budget_per_hour=app.calls_per_minute * 60,
                tokens=round(state["tokens"], 1) if "tokens" in state else burst,
                bans=bans,
                waits=int(state.get("waits", 0)),
                calls_total=totals[app.app_key][0],
                errors_total=totals[app.app_key][1],
            )
        )
    return out


def sections(request: HttpRequest, now: datetime) -> list[TenantSection]:
    shops = list(with_health(scoped(request, Shop.objects.select_related("tenant"), "tenant"), now))
    per_hour = hourly_trades([s.pk for s in shops], now)
    by_tenant: dict[int, TenantSection] = {}
    shops.sort(key=lambda s: (severity(s, now), -(lag(s, now) or timedelta(0)), s.seller_nick))
    for shop in shops:
        section = by_tenant.setdefault(shop.tenant_id, TenantSection(shop.tenant.name))
        section.rows.append(
            ShopRow(
                shop, format_lag(lag(shop, now)), problems(shop, now), chart(per_hour[shop.pk], now)
            )
        )
    # tenants with problems first, then by name
    return sorted(by_tenant.values(), key=lambda t: (-t.problem_count, t.name))


def dashboard_view(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        **admin.site.each_context(request),
        "title": _("Dashboard"),
        "sections": sections(request, now),
        "budgets": budgets(now) if request.user.is_superuser else [],
        "now": now,
        "hours": HOURS,
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
