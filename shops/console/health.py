"""A shop's health as the console shows it: lag, last success, failures, calls today, problems."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import CharField, IntegerField, Max, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.models import Schedule

from shops.models import Checkpoint, Shop, SyncRun

PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
LAG_WARNING = timedelta(minutes=30)


def start_of_platform_day(now: datetime) -> datetime:
    local = now.astimezone(PLATFORM_TZ)
    return datetime.combine(local.date(), time(0), tzinfo=PLATFORM_TZ)


def with_health(shops: QuerySet[Shop], now: datetime | None = None) -> QuerySet[Shop]:
    """Annotate ``cursor``, ``last_success``, ``failures``, ``last_error``, ``calls_today``,
    ``next_sync`` (when the shop's sync schedule fires next; None when it has none).

    Each is a subquery on a shop's few checkpoints, or on its runs since midnight through
    ``syncrun_shop_recent_idx``; a page of shops costs one query.
    """
    now = now or timezone.now()
    trades = Checkpoint.objects.filter(shop=OuterRef("pk"), stream=Checkpoint.Stream.TRADES)
    streams = Checkpoint.objects.filter(shop=OuterRef("pk")).values("shop")
    today = (
        SyncRun.objects.filter(shop=OuterRef("pk"), started_at__gte=start_of_platform_day(now))
        .values("shop")
        .annotate(calls=Sum("api_calls"))
        .values("calls")
    )
    failing = Checkpoint.objects.filter(shop=OuterRef("pk"), consecutive_failures__gt=0)
    # the name shops.schedules.sync_name gives it
    name = Concat(Value("shop-"), Cast(OuterRef("pk"), CharField()), Value("-sync"))
    schedule = Schedule.objects.filter(name=name)
    return shops.annotate(
        cursor=Subquery(trades.values("cursor")[:1]),
        last_success=Subquery(trades.values("last_success_at")[:1]),
        failures=Coalesce(
            Subquery(streams.annotate(m=Max("consecutive_failures")).values("m")[:1]),
            0,
            output_field=IntegerField(),
        ),
        last_error=Subquery(failing.order_by("-consecutive_failures").values("last_error")[:1]),
        calls_today=Coalesce(Subquery(today[:1]), 0, output_field=IntegerField()),
        next_sync=Subquery(schedule.values("next_run")[:1]),
    )


def lag(shop: Shop, now: datetime | None = None) -> timedelta | None:
    """How far the trades cursor trails now; None before the first sync."""
    cursor = getattr(shop, "cursor", None)
    if cursor is None:
        return None
    return max(timedelta(0), (now or timezone.now()) - cursor)


def format_lag(value: timedelta | None) -> str:
    """A lag in words: ``3 min``, ``2 h 5 min``, ``1 d 4 h`` (``3 分钟`` in Chinese)."""
    if value is None:
        return _("not synced yet")
    seconds = int(value.total_seconds())
    if seconds < 3600:
        return _("%(minutes)d min") % {"minutes": seconds // 60}
    if seconds < 86400:
        return _("%(hours)d h %(minutes)d min") % {
            "hours": seconds // 3600,
            "minutes": seconds % 3600 // 60,
        }
    return _("%(days)d d %(hours)d h") % {
        "days": seconds // 86400,
        "hours": seconds % 86400 // 3600,
    }


# what needs an operator's eye, most serious first: (code, words)
SEVERITY = ("needs_reauth", "disabled", "degraded", "failing", "lagging", "paused")


def problem_codes(shop: Shop, now: datetime | None = None) -> list[tuple[str, str]]:
    """``[(code, words), …]``, most serious first; the words in the page's language."""
    found = []
    if shop.status == Shop.Status.NEEDS_REAUTH:
        found.append(("needs_reauth", _("needs re-authorization")))
    if shop.status == Shop.Status.DISABLED:
        found.append(("disabled", _("disabled")))
    if shop.degraded:
        found.append(("degraded", _("degraded mode")))
    if getattr(shop, "failures", 0):
        found.append(("failing", _("failing (%(count)d in a row)") % {"count": shop.failures}))
    late = lag(shop, now)
    if shop.status == Shop.Status.ACTIVE and late is not None and late > LAG_WARNING:
        found.append(("lagging", _("lagging %(lag)s") % {"lag": format_lag(late)}))
    if shop.status == Shop.Status.PAUSED:
        found.append(("paused", _("paused")))
    return found


def problems(shop: Shop, now: datetime | None = None) -> list[str]:
    """What needs an operator's eye, most serious first."""
    return [words for _code, words in problem_codes(shop, now)]


def severity(shop: Shop, now: datetime | None = None) -> int:
    """0 = worst; shops without problems sort last."""
    found = problem_codes(shop, now)
    if not found:
        return 9
    return min(SEVERITY.index(found[0][0]), 4)
