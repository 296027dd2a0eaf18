"""Replace one django-q2 schedule per shop by two due times on the shop and one dispatcher.

On an existing database each shop takes the next run of its own schedules (keeping its phase),
an active shop without one is due now, and every per-shop schedule is deleted; the reverse
makes them again from the due times. Runs already queued in the broker are left as they are.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

DISPATCH = "dispatch-shops"
DISPATCH_TASK = "shops.tasks.dispatch_shops"
SYNC_TASK = "trades.tasks.sync_shop_task"
RECONCILE_TASK = "trades.tasks.reconcile_shop_task"
PER_SHOP = r"^shop-[0-9]+-(sync|reconcile)$"


def next_reconcile_at(now):
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    at = datetime.combine(local.date(), time(settings.RECONCILE_HOUR), tzinfo=local.tzinfo)
    return at if at > local else at + timedelta(days=1)


def to_due_times(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Shop = apps.get_model("shops", "Shop")
    runs = dict(Schedule.objects.filter(name__regex=PER_SHOP).values_list("name", "next_run"))
    shops = list(Shop.objects.only("pk", "status"))
    now = timezone.now()
    for shop in shops:
        active = shop.status == "active"
        shop.next_sync_at = runs.get(f"shop-{shop.pk}-sync") or (now if active else None)
        shop.next_reconcile_at = runs.get(f"shop-{shop.pk}-reconcile") or next_reconcile_at(now)
        if not active:
            shop.next_sync_at = shop.next_reconcile_at = None
    Shop.objects.bulk_update(shops, ["next_sync_at", "next_reconcile_at"], batch_size=1000)
    Schedule.objects.filter(name__regex=PER_SHOP).delete()
    Schedule.objects.get_or_create(
        name=DISPATCH,
        defaults={"func": DISPATCH_TASK, "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def to_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Shop = apps.get_model("shops", "Shop")
    Schedule.objects.filter(name=DISPATCH).delete()
    for shop in Shop.objects.filter(status="active"):
        minutes = 30 if shop.degraded else shop.interval_minutes or 1
        common = {"args": repr((shop.pk,)), "repeats": -1}
        Schedule.objects.get_or_create(
            name=f"shop-{shop.pk}-sync",
            defaults={"func": SYNC_TASK, "schedule_type": "I", "minutes": minutes,
                      "next_run": shop.next_sync_at or timezone.now(), **common},
        )
        if shop.next_reconcile_at:
            Schedule.objects.get_or_create(
                name=f"shop-{shop.pk}-reconcile",
                defaults={"func": RECONCILE_TASK, "schedule_type": "D",
                          "next_run": shop.next_reconcile_at, **common},
            )


class Migration(migrations.Migration):
    dependencies = [
        ("shops", "0015_merged_labels"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="shop",
            name="next_reconcile_at",
            field=models.DateTimeField(
                blank=True, help_text="when the dispatcher queues the next daily reconcile", null=True
            ),
        ),
        migrations.AddField(
            model_name="shop",
            name="next_sync_at",
            field=models.DateTimeField(
                blank=True,
                help_text="when the dispatcher queues the next sync (active shops)",
                null=True,
            ),
        ),
        migrations.AddIndex(
            model_name="shop",
            index=models.Index(
                condition=models.Q(("status", "active")),
                fields=["next_sync_at"],
                name="shop_sync_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="shop",
            index=models.Index(
                condition=models.Q(("status", "active")),
                fields=["next_reconcile_at"],
                name="shop_reconcile_due_idx",
            ),
        ),
        migrations.RunPython(to_due_times, to_schedules),
    ]
