from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades.items.streams import sync_items
from trades.management.commands._shop import find_shop


class Command(BaseCommand):
    help = "Read a shop's items and SKU stock in the foreground (on sale, sold out, warehouse)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("shop", help="shop id or seller nick")

    def handle(self, *args: Any, **opts: Any) -> None:
        runs = sync_items(find_shop(opts["shop"]))
        for run in runs:
            self.stdout.write(
                f"{run.stream}: {run.outcome} — {run.pages} pages, {run.trades_written} "
                f"items written, {run.api_calls} API calls"
            )
        if any(run.outcome == "failed" for run in runs):
            raise CommandError("an item stream failed; its cursor stays where it was")
