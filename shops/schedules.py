"""One named django-q2 schedule per shop and job, kept in step with the shop.

Functions are named by their dotted path, so this module needs nothing from ``trades``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule

from shops.models import Shop

SYNC_TASK = "trades.tasks.sync_shop_task"
RECONCILE_TASK = "trades.tasks.reconcile_shop_task"
PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
DEGRADED_MINUTES = 30
# A shop whose volume is not measured yet (new, or still backfilling) is polled often: taken
# for idle, a busy shop would wait half an hour for the run that finds out it is not.
UNMEASURED_MINUTES = 1


def sync_name(shop: Shop) -> str:
    return f"shop-{shop.pk}-sync"


def reconcile_name(shop: Shop) -> str:
    return f"shop-{shop.pk}-reconcile"


def interval_minutes(shop: Shop) -> int:
    if shop.degraded:
        return DEGRADED_MINUTES
    if shop.interval_minutes is None:
        return UNMEASURED_MINUTES
    return shop.interval_minutes


def next_reconcile_at(now: datetime) -> datetime:
    """The next ``RECONCILE_HOUR`` o'clock, platform time."""
    local = now.astimezone(PLATFORM_TZ)
    at = datetime.combine(local.date(), time(settings.RECONCILE_HOUR), tzinfo=PLATFORM_TZ)
    return at if at > local else at + timedelta(days=1)


def sync_schedules(shop: Shop) -> None:
    """Create, update or remove the shop's schedules to match its state. Idempotent."""
    if shop.status != Shop.Status.ACTIVE:
        remove_schedules(shop)
        return
    minutes = interval_minutes(shop)
    sync, created = Schedule.objects.get_or_create(
        name=sync_name(shop),
        defaults={
            "func": SYNC_TASK,
            "args": repr((shop.pk,)),
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )
    if not created and sync.minutes != minutes:
        sync.minutes = minutes
        sync.next_run = min(
            sync.next_run or timezone.now(), timezone.now() + timedelta(minutes=minutes)
        )
        sync.save(update_fields=["minutes", "next_run"])
    reconcile, created = Schedule.objects.get_or_create(
        name=reconcile_name(shop),
        defaults={
            "func": RECONCILE_TASK,
            "args": repr((shop.pk,)),
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            "next_run": next_reconcile_at(timezone.now()),
        },
    )
    if not created and not _at_reconcile_hour(reconcile.next_run):
        # RECONCILE_HOUR changed since the schedule was made: move it to the new hour
        reconcile.next_run = next_reconcile_at(timezone.now())
        reconcile.save(update_fields=["next_run"])


def _at_reconcile_hour(when: datetime | None) -> bool:
    return when is not None and when.astimezone(PLATFORM_TZ).hour == settings.RECONCILE_HOUR


def remove_schedules(shop: Shop) -> None:
    Schedule.objects.filter(name__in=[sync_name(shop), reconcile_name(shop)]).delete()


def on_shop_deleted(sender: type[Shop], instance: Shop, **kwargs: Any) -> None:
    """A shop deleted any way (admin, ORM, its tenant's cascade) takes its schedules along:
    left behind, they would run every few minutes for a shop that is gone."""
    remove_schedules(instance)
