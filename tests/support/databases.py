"""Test databases cloned from one migrated template.

Migrating a database takes tens of seconds here; each parallel worker migrating its own made
the start of a run wait on all of them at once. The template is migrated once per set of
migrations (its name carries their hash, so it is reused by the next run until a migration
changes) and every worker's database is a copy of it (``CREATE DATABASE … TEMPLATE``)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import django
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.migrations.loader import MigrationLoader
from pgserver._commands import POSTGRES_BIN_PATH as PG_BIN
from psycopg.conninfo import make_conninfo

TEMPLATE_PREFIX = "test_ordersync_tpl_"
# one template is built at a time on a server, whoever asks (a server-wide advisory lock)
TEMPLATE_LOCK = 7_360_218_801


def migrations_hash() -> str:
    """A hash of every migration file the project and its packages have, and Django's
    version: two runs with the same hash migrate to the same database."""
    digest = hashlib.sha256(django.get_version().encode())
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for key in sorted(loader.disk_migrations):
        module = sys.modules[type(loader.disk_migrations[key]).__module__]
        digest.update(repr(key).encode())
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def server_cursor() -> Iterator[CursorWrapper]:
    """A cursor on the server's maintenance database, holding the template lock."""
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [TEMPLATE_LOCK])
        try:
            yield cursor
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [TEMPLATE_LOCK])


def _exists(cursor: CursorWrapper, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return cursor.fetchone() is not None


def _drop(cursor: CursorWrapper, name: str) -> None:
    cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)} WITH (FORCE)")


def use_database(name: str) -> None:
    """Point the connection (and the settings that child processes are given) at ``name``."""
    connection.close()
    connection.settings_dict["NAME"] = settings.DATABASES[connection.alias]["NAME"] = name


def _build(cursor: CursorWrapper, template: str) -> None:
    """Migrate a new database and publish it under ``template`` once whole (a build that
    dies leaves only its ``_building`` database, dropped by the next); the templates of
    other migrations go."""
    cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [TEMPLATE_PREFIX + "%"])
    for (stale,) in cursor.fetchall():  # other migrations' templates, a dead build
        _drop(cursor, stale)
    building = f"{template}_building"
    cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(building)}")
    name = connection.settings_dict["NAME"]
    use_database(building)
    try:
        call_command("migrate", verbosity=0, interactive=False, run_syncdb=True)
    finally:
        use_database(name)
    quoted = connection.ops.quote_name
    cursor.execute(f"ALTER DATABASE {quoted(building)} RENAME TO {quoted(template)}")


def _template(cursor: CursorWrapper) -> str:
    """The migrated template's name, built first if missing."""
    template = TEMPLATE_PREFIX + migrations_hash()
    if not _exists(cursor, template):
        _build(cursor, template)
    return template


def ensure_template() -> str:
    """The migrated template's name, built now if missing (whoever asks first builds it)."""
    with server_cursor() as cursor:
        return _template(cursor)


def create_from_template(name: str) -> None:
    """Make ``name`` a fresh copy of the migrated template (built first if missing)."""
    quoted = connection.ops.quote_name
    with server_cursor() as cursor:
        template = _template(cursor)
        _drop(cursor, name)
        cursor.execute(f"CREATE DATABASE {quoted(name)} TEMPLATE {quoted(template)}")
        # commits need not wait for the disk in a database thrown away at the end: the
        # transactional tests' cleanups and the child processes' commits stop waiting on fsync
        cursor.execute(f"ALTER DATABASE {quoted(name)} SET synchronous_commit = off")


def restore_template(url: str) -> None:
    """Load the migrated template into the empty database at ``url`` on another server (an
    embedded one of its own): ``pg_dump`` piped to ``psql``, seconds instead of a migrate.
    The template lock is held meanwhile: a copy made from a database in use would fail."""
    params = connection.get_connection_params()
    server = {key: params[key] for key in ("host", "port", "user", "password") if params.get(key)}
    with server_cursor() as cursor:
        source = make_conninfo(**server, dbname=_template(cursor))
        dump = subprocess.run(
            [PG_BIN / "pg_dump", "--no-owner", "--no-privileges", source],
            capture_output=True,
            check=True,
        ).stdout
    subprocess.run(
        [PG_BIN / "psql", "--quiet", "--set", "ON_ERROR_STOP=1", url],
        input=dump,
        capture_output=True,
        check=True,
    )


def drop(name: str) -> None:
    with connection._nodb_cursor() as cursor:
        _drop(cursor, name)


def main() -> None:
    """``python -m tests.support.databases``: build the migrated template now if it is
    missing, as the first test run of a checkout does, and print its name."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")
    django.setup()
    print(ensure_template())


if __name__ == "__main__":
    main()
