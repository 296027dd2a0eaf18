from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trades.management.commands._shop import find_shop
from trades.replenish.suggest import recompute_suggestions, refresh_replenishment


class Command(BaseCommand):
    help = "Recompute a shop's purchase suggestions now (--items: read its items first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("shop", help="shop id or seller nick")
        parser.add_argument("--items", action="store_true", help="read items and stock first")

    def handle(self, *args: Any, **opts: Any) -> None:
        shop = find_shop(opts["shop"])
        count = refresh_replenishment(shop) if opts["items"] else recompute_suggestions(shop)
        self.stdout.write(f"{shop.seller_nick}: {count} SKUs with suggestions")
