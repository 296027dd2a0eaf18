"""Benchmark webhook delivery to a fast local receiver and print deliveries per second."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from tools.bench import webhooks as bench


class Part(BaseCommand):
    help = "Write N trades for one webhook endpoint, deliver them, print deliveries per second."

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=5000)
        parser.add_argument(
            "--processes", type=int, default=1, help="delivering processes (deliver_webhooks)"
        )
        parser.add_argument("--json", help="also write the figures to this file")

    def handle(self, *args, **opts):
        figures = bench.run(opts["events"], opts["processes"])
        self.stdout.write(
            f"webhooks: {figures['delivered']:,} of {figures['events']:,} delivered in "
            f"{figures['deliver_seconds']} s = {figures['deliveries_per_second']} deliveries/s "
            f"({figures['processes']} process(es) x {figures['concurrency']} concurrent, "
            f"batch {figures['batch']}; outbox written with the trades in "
            f"{figures['write_seconds']} s; receiver counted {figures['received']:,})"
        )
        if opts["json"]:
            with open(opts["json"], "w") as out:
                json.dump(figures, out, indent=2)
