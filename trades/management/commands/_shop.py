"""What the job commands share: finding the shop an operator names."""

from __future__ import annotations

from django.core.management.base import CommandError

from shops import audit
from shops.audit.actor import command_actor
from shops.models import Shop


def find_shop(ref: str) -> Shop:
    """A shop by primary key or seller nick."""
    shops = Shop.objects.select_related("app", "tenant")
    shop: Shop | None = shops.filter(pk=int(ref)).first() if ref.isdigit() else None
    shop = shop or shops.filter(seller_nick=ref).first()
    if shop is None:
        raise CommandError(f"no shop {ref!r} (give its id or seller nick)")
    return shop


def record_command_job(command: str, shop: Shop, kind: str, **params: object) -> None:
    """The audit entry of a job an operator runs in the foreground (``shop.backfill``, ...)."""
    given = {name: value for name, value in params.items() if value}
    audit.record(f"shop.{kind}", target=shop, details=given, actor=command_actor(command))
