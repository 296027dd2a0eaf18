from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades.management.commands._shop import find_shop, record_command_job
from trades.sync.reconcile import reconcile_shop


class Command(BaseCommand):
    help = (
        "Reconcile a shop's trades and refunds with the platform (every day since the last "
        "one reconciled whole, at least yesterday, and today; or one day)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("shop", help="shop id or seller nick")
        parser.add_argument("--day", help="platform date, YYYY-MM-DD")

    def handle(self, *args: Any, **opts: Any) -> None:
        shop = find_shop(opts["shop"])
        try:
            day = date.fromisoformat(opts["day"]) if opts["day"] else None
        except ValueError:
            raise CommandError(f"--day {opts['day']!r} is not a date (YYYY-MM-DD)") from None
        record_command_job("reconcile_shop", shop, "reconcile", day=opts["day"])
        for report in reconcile_shop(shop, day):
            self.stdout.write(
                f"{report.day}: platform {report.platform_count}, ours {report.local_count}, "
                f"missing found {report.missing_found}, stale fixed {report.stale_fixed}, "
                f"{report.api_calls} API calls, {report.duration_seconds:.1f}s; refunds: "
                f"platform {report.refunds_platform_count}, ours {report.refunds_local_count}, "
                f"missing found {report.refunds_missing_found}, "
                f"stale fixed {report.refunds_stale_fixed}; unresolved {report.unresolved}"
            )
