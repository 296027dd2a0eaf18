from django.db import migrations


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="ordersync-heartbeat",
        defaults={"func": "ordersync.tasks.heartbeat", "schedule_type": "I", "minutes": 1,
                  "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="ordersync-heartbeat").delete()


class Migration(migrations.Migration):
    dependencies = [("ordersync", "0001_heartbeat"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
