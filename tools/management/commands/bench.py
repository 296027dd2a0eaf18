"""``manage.py bench [part]``: every benchmark of ordersync behind one command.

With no part, the report: the parts named by ``--only`` (naive, double11, backfill, scheduler,
api, feed, tmc, steady, webhooks) written to ``docs/benchmarks.json`` and ``docs/benchmarks.md``.
``bench naive`` (or ``bench chaos``), ``bench double11``, ``bench backfill``, ``bench scheduler``
and ``bench feed`` are one part of that report, written the same way. The other parts run one
benchmark alone and print
its figures: ``bench sync``, ``bench tmc``, ``bench jdp``, ``bench api``, ``bench webhooks``,
``bench ratelimit``, ``bench sandbox``, ``bench presale``, ``bench logistics``,
``bench retention``, ``bench export`` (``bench PART
--help`` for its flags). Figures, never assertions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TextIO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor

from tools.bench.parts import (
    api,
    export,
    jdp,
    logistics,
    presale,
    ratelimit,
    report,
    retention,
    sandbox,
    sync,
    tmc,
    webhooks,
)

PARTS: dict[str, type[BaseCommand]] = {
    "sync": sync.Part,
    "tmc": tmc.Part,
    "jdp": jdp.Part,
    "api": api.Part,
    "webhooks": webhooks.Part,
    "ratelimit": ratelimit.Part,
    "sandbox": sandbox.Part,
    "presale": presale.Part,
    "logistics": logistics.Part,
    "retention": retention.Part,
    "export": export.Part,
}
# parts of the report that are a command of their own only there: name → aliases
REPORT_PARTS = {
    "naive": ["chaos"],
    "double11": [],
    "backfill": [],
    "scheduler": [],
    "feed": [],
}


class Command(BaseCommand):
    help = "Run the benchmarks: the report with no part, or one part and its figures."

    def add_arguments(self, parser: CommandParser) -> None:
        report.Part().add_arguments(parser)
        parts = parser.add_subparsers(dest="part", metavar="part", required=False)
        for name, aliases in REPORT_PARTS.items():
            helps = f"the report's {name} part alone (as --only {name})"
            part = parts.add_parser(name, aliases=aliases, help=helps, description=helps)
            report.Part().add_arguments(part)
            part.set_defaults(only=name)
        for name, command in PARTS.items():
            helps = command.help
            command().add_arguments(parts.add_parser(name, help=helps, description=helps))

    def handle(self, *args: Any, **opts: Any) -> None:
        part = PARTS.get(opts.pop("part") or "", report.Part)
        if getattr(part, "needs_database", True) and not opts.get("render"):
            require_migrated(connection)
        # the streams themselves: a part wraps them as any command does
        out, err = cast(TextIO, self.stdout._out), cast(TextIO, self.stderr._out)
        with settings_kept():
            part(stdout=out, stderr=err).handle(*args, **opts)


def require_migrated(database: BaseDatabaseWrapper) -> None:
    """A clear error instead of a traceback halfway through a part on a bare database."""
    executor = MigrationExecutor(database)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CommandError(
            f"database {database.settings_dict['NAME']!r} has unapplied migrations: "
            "run `python manage.py migrate` first"
        )


@contextlib.contextmanager
def settings_kept() -> Iterator[None]:
    """Put back the settings a part set to measure with (DEBUG off, a lag, a batch size):
    called in a process that goes on (the tests, a shell), they would outlive the part."""
    held: dict[str, Any] = settings._wrapped.__dict__  # type: ignore[misc]
    saved = dict(held)
    try:
        yield
    finally:
        held.clear()
        held.update(saved)
