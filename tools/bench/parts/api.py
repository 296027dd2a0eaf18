"""``manage.py bench api --trades 1000000``: load a tenant of N trades, time the trade list.

Prints p50/p99 of listing a page of trades with sub-orders in-process, then requests/s through
gunicorn on loopback with a small threaded load generator. Figures, not assertions.
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from tools.bench import api, psql_floor


class Part(BaseCommand):
    help = "Benchmark the trade list on a tenant of N trades (loaded once, then reused)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--trades", type=int, default=1_000_000)
        parser.add_argument("--lines", type=int, default=2, help="sub-orders per trade")
        parser.add_argument("--page", type=int, default=100, help="trades per page")
        parser.add_argument("--samples", type=int, default=300, help="in-process requests")
        parser.add_argument("--seconds", type=float, default=15.0, help="load duration")
        parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
        parser.add_argument(
            "--threads", type=int, default=2, help="threads per worker (1: sync workers)"
        )
        parser.add_argument("--clients", type=int, default=8, help="load generator threads")
        parser.add_argument("--skip-http", action="store_true")

    def handle(self, **opts) -> None:
        shop = api.load_trades(opts["trades"], opts["lines"], log=self.stdout.write)
        token = api.read_key(shop)
        timing = api.time_in_process(token, opts["page"], opts["samples"])
        self.stdout.write(
            f"in-process GET /api/v1/trades/?limit={timing['page']} (with sub-orders), "
            f"{timing['requests']} requests: p50 {timing['p50_ms']} ms, p99 {timing['p99_ms']} ms"
        )
        psql = psql_floor.time_in_psql(psql_floor.list_queries(token, opts["page"]))
        self.stdout.write(
            f"the same request's {psql['queries']} queries in psql alone: "
            f"{psql['ms_per_request']} ms (mean of {psql['repeat']})"
        )
        if opts["skip_http"]:
            return
        for r in api.time_through_gunicorn(
            token,
            page=opts["page"],
            workers=opts["workers"],
            threads=opts["threads"],
            clients=opts["clients"],
            seconds=opts["seconds"],
        ):
            self.stdout.write(
                f"gunicorn -w {r['workers']} --threads {r['threads']}, "
                f"{r['clients']} client threads, "
                f"{r['seconds']:.0f} s, GET {_target(r['page'])}: {r['requests_per_second']:.0f} "
                f"requests/s ({r['ok']} ok, {r['errors']} errors, client-side p50 "
                f"{r['p50_ms']} ms; CPU per request: gunicorn "
                f"{r['gunicorn_cpu_ms_per_request']} ms, load generator "
                f"{r['load_generator_cpu_ms_per_request']} ms)"
            )
        self.stdout.write(f"load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


def _target(page: int | str) -> str:
    return "a static 200 (the floor)" if page == "static" else f"limit={page}"
