"""The table of the "shared" cache when it lives in PostgreSQL (settings.CACHES).

``migrate`` is the only step the demo, CI and deployments run, so the table comes with it
(rather than a separate ``createcachetable``). It is created even where Redis holds the cache,
so switching REDIS_URL off later needs no extra step.

The table is UNLOGGED: the API throttle writes it on every request, and skipping the
write-ahead log makes those writes about a third cheaper. A crash empties an unlogged table
and replicas do not get it; for request counts of the current minute both are harmless.
"""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "ordersync_cache"


def create_table(apps, schema_editor):
    # Django's own DDL for DatabaseCache, so the schema is exactly what the backend expects
    command = CreateCacheTable()
    command.verbosity = 0  # create_table reads it; it is set by handle() otherwise
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)
    schema_editor.execute(f'ALTER TABLE "{TABLE}" SET UNLOGGED')


def drop_table(apps, schema_editor):
    schema_editor.execute(f'DROP TABLE IF EXISTS "{TABLE}"')


class Migration(migrations.Migration):
    dependencies = [("ordersync", "0003_token_refresh_schedule")]

    operations = [migrations.RunPython(create_table, drop_table)]
