"""The ``/healthz`` checks from the command line, for container healthchecks and cron."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ordersync.observability import run_checks


class Command(BaseCommand):
    help = "Check the database, the broker and the cluster heartbeat; exit 1 when one fails."

    def handle(self, *args: Any, **opts: Any) -> None:
        healthy, checks = run_checks()
        for name, result in checks.items():
            self.stdout.write(f"{name:<9} {result}")
        if not healthy:
            raise CommandError("unhealthy")
