from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from trades.management.commands._shop import find_shop
from trades.sync.backfill import Progress, backfill_shop

BAR = 30


def progress_line(progress: Progress) -> str:
    share = progress.done_seconds / progress.total_seconds if progress.total_seconds else 1.0
    filled = int(share * BAR)
    return (
        f"{progress.stage:>7} [{'#' * filled}{'.' * (BAR - filled)}] {share:6.1%}  "
        f"{progress.slices:,} slices, {progress.trades_written:,} trades written"
    )


class Command(BaseCommand):
    help = "Backfill a shop's history (or resume its unfinished backfill), with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("shop", help="shop id or seller nick")
        parser.add_argument("--days", type=int, help="how far back (default BACKFILL_DAYS)")

    def handle(self, *args, **opts):
        shop = find_shop(opts["shop"])
        tty = sys.stderr.isatty()

        def show(progress: Progress) -> None:
            line = progress_line(progress)
            self.stderr.write(("\r" + line) if tty else line, ending="" if tty else "\n")

        run = backfill_shop(shop, opts["days"], on_progress=show)
        if tty:
            self.stderr.write("")
        self.stdout.write(
            f"backfill {run.outcome}: {run.pages} pages, {run.trades_written} trades written, "
            f"{run.api_calls} API calls"
        )
        if run.outcome == "failed":
            raise CommandError(f"{run.error_class}: {run.error_message} (resume by running again)")
