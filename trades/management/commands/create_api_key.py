"""``manage.py create_api_key TENANT_SLUG NAME [--scope read_write] [--days N]``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from shops.audit.actor import acting, command_actor
from shops.caps import OverCap
from shops.models import Tenant
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key


class Command(BaseCommand):
    help = "Create an API key for a tenant and print its token (shown this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="the tenant's slug")
        parser.add_argument("name", help="who uses the key")
        parser.add_argument("--scope", choices=ApiKey.Scope.values, default=ApiKey.Scope.READ)
        parser.add_argument("--days", type=int, help="expire after this many days")

    def handle(self, tenant: str, name: str, scope: str, days: int | None, **options: Any) -> None:
        try:
            tenant_obj = Tenant.objects.get(slug=tenant)
        except Tenant.DoesNotExist:
            raise CommandError(f"no tenant with slug {tenant!r}") from None
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            with acting(command_actor("create_api_key")):
                issued = create_api_key(tenant_obj, name, scope, expires_at=expires_at)
        except OverCap as exc:
            raise CommandError(f"{exc}; revoke a key or raise the setting") from None
        self.stdout.write(issued.token)
