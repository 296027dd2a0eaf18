"""Deliver due webhooks in the foreground (what the scheduled sweep does, for longer)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trades.webhooks.runner import sweep_webhooks


class Command(BaseCommand):
    help = "Deliver due webhooks for a while, or until nothing is due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=60, help="stop after this long")
        parser.add_argument(
            "--until-idle", action="store_true", help="stop as soon as nothing is due"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        tally = sweep_webhooks(opts["seconds"], requeue=False, until_idle=opts["until_idle"])
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(tally.outcomes.items())) or "none"
        self.stdout.write(f"{tally.attempts} attempts, {tally.succeeded} delivered ({outcomes})")
