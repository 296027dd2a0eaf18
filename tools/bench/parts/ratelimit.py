"""``manage.py bench ratelimit``: 24 concurrent clients of one API key against gunicorn.

Prints how many requests were allowed within one minute against the key's budget. A figure,
not an assertion; the limit holds when allowed ≤ budget (+1%).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from tools.bench.ratelimit import measure


class Part(BaseCommand):
    help = "Stress the per-key rate limit with concurrent clients; print the allowed count."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--budget", type=int, default=1200, help="requests per minute")
        parser.add_argument("--clients", type=int, default=24, help="concurrent client threads")
        parser.add_argument("--seconds", type=float, default=60.0, help="at most 60")
        parser.add_argument("--requests-per-client", type=int, default=10**9)
        parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, **opts) -> None:
        figures = measure(
            budget=opts["budget"],
            clients=opts["clients"],
            seconds=opts["seconds"],
            requests_per_client=opts["requests_per_client"],
            workers=opts["workers"],
        )
        if opts["json"]:
            self.stdout.write(json.dumps(figures))
            return
        f = figures
        self.stdout.write(
            f"{f['clients']} clients, gunicorn -w {f['gunicorn_workers']}, {f['seconds']:.0f} s: "
            f"{f['allowed']} of {f['requests']} requests allowed against a budget of "
            f"{f['budget_per_minute']}/min ({f['allowed_over_budget_percent']:+.2f}%), "
            f"{f['throttled']} throttled, other {f['other'] or 'none'}: "
            f"limit {'held' if f['held'] else 'LEAKED'}"
        )
