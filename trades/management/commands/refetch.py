from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shops.refetch import BadRefetch, refetch_params
from trades.management.commands._shop import find_shop, record_command_job
from trades.tasks import refetch_shop_task


class Command(BaseCommand):
    help = (
        "Re-pull some of a shop's trades in the foreground: a list of tids (each with "
        "trade.fullinfo.get) or a window of modified time (no cursor moves)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("shop", help="shop id or seller nick")
        parser.add_argument("--tids", nargs="+", help="trade ids (at most 100)")
        parser.add_argument("--modified-after", help="ISO 8601; without offset, platform time")
        parser.add_argument("--modified-before", help="ISO 8601; at most a day after the start")

    def handle(self, *args: str, **opts: Any) -> None:
        shop = find_shop(opts["shop"])
        tids = " ".join(opts["tids"]) if opts["tids"] else None
        try:
            params = refetch_params(tids, opts["modified_after"], opts["modified_before"])
        except BadRefetch as error:
            raise CommandError(str(error)) from None
        record_command_job("refetch", shop, "refetch", params=params)
        outcome = refetch_shop_task(shop.pk, params)
        if "error" in outcome:
            raise CommandError(outcome["error"])
        self.stdout.write(
            f"run {outcome['run']}: fetched {outcome['fetched']}, written {outcome['written']}, "
            f"not found {len(outcome['not_found'])} {outcome['not_found_str'] or ''}, "
            f"failed {len(outcome['failed'])} {outcome['failed_str'] or ''}".rstrip()
        )
