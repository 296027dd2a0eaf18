from django.db import migrations

NAME = "shops-refresh-tokens"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={"func": "shops.tasks.refresh_tokens", "schedule_type": "I", "minutes": 30,
                  "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("ordersync", "0002_heartbeat_schedule")]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
