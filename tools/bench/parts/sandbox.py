"""Print how many 100-trade list calls per second the sandbox serves."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tools.bench import gateway as bench


class Part(BaseCommand):
    help = "Benchmark the sandbox: 100-trade taobao.trades.sold.increment.get calls per second."
    needs_database = False  # the sandbox alone, in child processes

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seconds", type=float, default=10.0)
        parser.add_argument("--clients", type=int, default=2)
        parser.add_argument("--trades", type=int, default=5000)
        parser.add_argument(
            "--live", type=float, default=600, help="market changes per minute (0: static)"
        )
        parser.add_argument(
            "--lag", type=int, default=60, help="visibility lag of the changes, seconds"
        )

        parser.add_argument(
            "--spread", type=int, default=0, help="each call's window ends up to N s ago"
        )

    def handle(self, *args, seconds, clients, trades, live, lag, spread, **options) -> None:
        figures = bench.run(seconds, clients, trades, live, lag, spread)
        bench.report(figures, self.stdout.write)
