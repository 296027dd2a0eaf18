from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from shops.management.secrets import ReadsSecrets
from shops.models import TopApp


class Command(ReadsSecrets, BaseCommand):
    help = "Add or update the ISV's TOP app (its secret is stored encrypted)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app-key", required=True)
        parser.add_argument(
            "--app-secret",
            help="'-' reads it from standard input; default: $TOP_APP_SECRET "
            "(a value here is visible in ps)",
        )
        parser.add_argument("--name", default="")
        parser.add_argument("--gateway-url", help="e.g. http://127.0.0.1:8100/router/rest")
        parser.add_argument("--sign-method", choices=TopApp.SignMethod.values)
        parser.add_argument("--calls-per-minute", type=int)

    def handle(self, *args: Any, **opts: Any) -> None:
        secret = self.secret(opts["app_secret"], "TOP_APP_SECRET", "--app-secret")
        gateway = opts["gateway_url"]
        defaults = {"name": opts["name"] or opts["app_key"], "app_secret": secret}
        if gateway:
            base = gateway.rsplit("/router/rest", 1)[0]
            defaults.update(
                gateway_url=gateway, authorize_url=f"{base}/authorize", token_url=f"{base}/token"
            )
        if opts["sign_method"]:
            defaults["sign_method"] = opts["sign_method"]
        if opts["calls_per_minute"]:
            defaults["calls_per_minute"] = opts["calls_per_minute"]
        app, created = TopApp.objects.update_or_create(app_key=opts["app_key"], defaults=defaults)
        self.stdout.write(f"{'added' if created else 'updated'} {app}")
