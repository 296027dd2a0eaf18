from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from shops.actions import onboard_shop
from shops.management.secrets import ReadsSecrets
from shops.models import Shop, Tenant, TopApp


class Command(ReadsSecrets, BaseCommand):
    help = "Onboard a seller's shop with a session key (operators); queues its backfill."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug (created if missing)")
        parser.add_argument("--app-key", required=True)
        parser.add_argument("--nick", required=True, help="seller nick")
        parser.add_argument("--seller-id", required=True, type=int)
        parser.add_argument(
            "--session",
            help="the seller's session key; '-' reads it from standard input; default: "
            "$TOP_SESSION_KEY (a value here is visible in ps)",
        )
        parser.add_argument("--platform", choices=Shop.Platform.values, default="taobao")
        parser.add_argument("--no-backfill", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        session = self.secret(opts["session"], "TOP_SESSION_KEY", "--session")
        try:
            app = TopApp.objects.get(app_key=opts["app_key"])
        except TopApp.DoesNotExist:
            raise CommandError(
                f"no TOP app with key {opts['app_key']!r}; add it with add_app"
            ) from None
        tenant, _ = Tenant.objects.get_or_create(
            slug=slugify(opts["tenant"]), defaults={"name": opts["tenant"]}
        )
        shop, created = onboard_shop(
            tenant=tenant,
            app=app,
            seller_nick=opts["nick"],
            seller_id=opts["seller_id"],
            session_key=session,
            platform=opts["platform"],
            backfill=not opts["no_backfill"],
        )
        verb = "added" if created else "re-authorized"
        self.stdout.write(f"{verb} shop {shop.pk} ({shop}) for tenant {tenant.slug}")
