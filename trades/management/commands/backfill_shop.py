from __future__ import annotations

import math
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from shops.models import Checkpoint, Shop
from trades.management.commands._shop import find_shop, record_command_job
from trades.sync.backfill import Progress, backfill_shop

BAR = 30
# Failures that only ask for time: a code-7 ban longer than the client waits out itself, and
# isv.trade-service-rejection ("query again in 3 minutes"). The failed run has set the
# backfill checkpoint's next_run_at to when the platform lets us back in.
WAITED_OUT = frozenset({"RateLimited", "TradeServiceRejected"})
sleep = time.sleep  # tests replace it


def progress_line(progress: Progress) -> str:
    share = progress.done_seconds / progress.total_seconds if progress.total_seconds else 1.0
    filled = int(share * BAR)
    return (
        f"{progress.stage:>7} [{'#' * filled}{'.' * (BAR - filled)}] {share:6.1%}  "
        f"{progress.slices:,} slices, {progress.trades_written:,} trades written"
    )


class Command(BaseCommand):
    help = "Backfill a shop's history (or resume its unfinished backfill), with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("shop", help="shop id or seller nick")
        parser.add_argument("--days", type=int, help="how far back (default BACKFILL_DAYS)")
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="exit at a ban or rejection instead of waiting it out",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        shop = find_shop(opts["shop"])
        tty = sys.stderr.isatty()
        record_command_job("backfill_shop", shop, "backfill", days=opts["days"])

        def show(progress: Progress) -> None:
            line = progress_line(progress)
            self.stderr.write(("\r" + line) if tty else line, ending="" if tty else "\n")

        while True:
            run = backfill_shop(shop, opts["days"], on_progress=show)
            if tty:
                self.stderr.write("")
            if run.outcome != "failed" or run.error_class not in WAITED_OUT or opts["no_wait"]:
                break
            self._wait_out(shop, run.error_class, tty)  # then resume where it stopped
        self.stdout.write(
            f"backfill {run.outcome}: {run.pages} pages, {run.trades_written} trades written, "
            f"{run.api_calls} API calls"
        )
        if run.outcome == "failed":
            raise CommandError(f"{run.error_class}: {run.error_message} (resume by running again)")

    def _wait_out(self, shop: Shop, reason: str, tty: bool) -> None:
        """Count down to the backfill checkpoint's next run time, one second at a time (on a
        terminal in place; in a log every 30 seconds)."""
        checkpoint = Checkpoint.objects.get(shop=shop, stream=Checkpoint.Stream.BACKFILL)
        until = checkpoint.next_run_at or timezone.now()
        total = max(1, math.ceil((until - timezone.now()).total_seconds()))
        for left in range(total, 0, -1):
            line = f"{reason}: the platform asks us to wait; resuming in {left}s"
            if tty:
                self.stderr.write(f"\r{line}   ", ending="")
            elif left == total or left % 30 == 0:
                self.stderr.write(line)
            sleep(1)
        if tty:
            self.stderr.write("")
