"""``manage.py bench tmc``: freshness (sandbox change → visible in the API) with TMC on and
off on the same scenario (``tools/bench/tmc.py``); also a part of the report. Figures only."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tools.bench.tmc import lines, measure_tmc


class Part(BaseCommand):
    help = "Benchmark freshness (sandbox change → visible in the API) with TMC on and off."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=60, help="how long the market runs")
        parser.add_argument("--changes-per-minute", type=int, default=600)
        parser.add_argument("--interval", type=float, default=30, help="seconds between polls")
        parser.add_argument("--lag", type=int, default=30, help="SYNC_LAG_SECONDS for the run")
        parser.add_argument("--drop", type=float, default=0.0, help="TMC messages dropped (0-1)")

    def handle(self, *args, **opts):
        figures = measure_tmc(
            opts["seconds"],
            opts["changes_per_minute"],
            opts["interval"],
            opts["lag"],
            opts["drop"],
            log=self.stderr.write,
        )
        for line in lines(figures):
            self.stdout.write(line)
