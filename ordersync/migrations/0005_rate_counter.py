"""Request counters of the rate limits (ordersync.ratelimit); UNLOGGED like the cache table:
written on every API request, and losing the current minute's counts in a crash is harmless."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ordersync', '0004_shared_cache_table'),
    ]

    operations = [
        migrations.CreateModel(
            name='RateCounter',
            fields=[
                ('key', models.CharField(max_length=200, primary_key=True, serialize=False)),
                ('window_ends', models.DateTimeField(db_index=True)),
                ('hits', models.PositiveIntegerField()),
            ],
        ),
        migrations.RunSQL(
            'ALTER TABLE "ordersync_ratecounter" SET UNLOGGED',
            'ALTER TABLE "ordersync_ratecounter" SET LOGGED',
        ),
    ]
