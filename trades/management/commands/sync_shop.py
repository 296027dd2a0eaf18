from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades.management.commands._shop import find_shop
from trades.sync.incremental import sync_shop


class Command(BaseCommand):
    help = "Run one incremental sync of a shop in the foreground (trades, then refunds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("shop", help="shop id or seller nick")
        parser.add_argument("--stream", choices=["trades", "refunds"])

    def handle(self, *args: Any, **opts: Any) -> None:
        shop = find_shop(opts["shop"])
        failed = False
        for stream in [opts["stream"]] if opts["stream"] else ["trades", "refunds"]:
            run = sync_shop(shop, stream)
            self.stdout.write(
                f"{stream}: {run.outcome} — {run.pages} pages, {run.trades_seen} seen, "
                f"{run.trades_written} written, {run.api_calls} API calls"
                + (f" — {run.error_class}: {run.error_message}" if run.error_class else "")
            )
            failed = failed or run.outcome == "failed"
        if failed:
            raise CommandError("the sync failed; the cursor stays where it was")
