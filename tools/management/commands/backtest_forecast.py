from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tools.bench.forecast import backtest, sandbox_history


class Command(BaseCommand):
    help = "Backtest the 7-day forecast against the 7-day average on the sandbox's history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--trades", type=int, default=24000, help="history trades")
        parser.add_argument("--days", type=int, default=120, help="history days")
        parser.add_argument("--origins", type=int, default=28, help="forecast origins (days)")
        parser.add_argument("--horizon", type=int, default=7)

    def handle(self, *args: Any, **opts: Any) -> None:
        series, last, promo = sandbox_history(opts["seed"], opts["trades"], opts["days"])
        result = backtest(series, last, promo, opts["origins"], opts["horizon"])
        better = (result.base - result.ours) / result.base if result.base else 0.0
        self.stdout.write(
            f"history: {opts['trades']} trades over {opts['days']} days (seed {opts['seed']}), "
            f"{result.skus} SKUs, {result.points} SKU-days forecast, {result.units} units\n"
            f"WAPE ours:     {result.ours:.1%}\n"
            f"WAPE baseline: {result.base:.1%}  (average of the last 7 days)\n"
            f"ours is {better:.1%} lower ({(result.base - result.ours) * 100:.1f} points)"
        )
