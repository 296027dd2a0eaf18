"""One named django-q2 schedule per shop and job, kept in step with the shop.

Functions are named by their dotted path, so this module needs nothing from ``trades``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django_q.models import Schedule

from shops.models import Shop

SYNC_TASK = "trades.tasks.sync_shop_task"
RECONCILE_TASK = "trades.tasks.reconcile_shop_task"
PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
DEGRADED_MINUTES = 30
IDLE_MINUTES = 30


def sync_name(shop: Shop) -> str:
    return f"shop-{shop.pk}-sync"


def reconcile_name(shop: Shop) -> str:
    return f"shop-{shop.pk}-reconcile"


def interval_minutes(shop: Shop) -> int:
    if shop.degraded:
        return DEGRADED_MINUTES
    return shop.interval_minutes or IDLE_MINUTES


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
    Schedule.objects.get_or_create(
        name=reconcile_name(shop),
        defaults={
            "func": RECONCILE_TASK,
            "args": repr((shop.pk,)),
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            "next_run": next_reconcile_at(timezone.now()),
        },
    )


def remove_schedules(shop: Shop) -> None:
    Schedule.objects.filter(name__in=[sync_name(shop), reconcile_name(shop)]).delete()


@receiver(post_delete, sender=Shop, dispatch_uid="shops.schedules.on_shop_deleted")
def on_shop_deleted(sender, instance: Shop, **kwargs) -> None:
    """A deleted shop, alone or with its tenant, leaves no schedule behind to run for it."""
    remove_schedules(instance)
