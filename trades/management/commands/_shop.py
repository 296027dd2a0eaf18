"""What the job commands share: finding the shop an operator names."""

from __future__ import annotations

from django.core.management.base import CommandError

from shops.models import Shop


def find_shop(ref: str) -> Shop:
    """A shop by primary key or seller nick."""
    shops = Shop.objects.select_related("app", "tenant")
    shop: Shop | None = shops.filter(pk=int(ref)).first() if ref.isdigit() else None
    shop = shop or shops.filter(seller_nick=ref).first()
    if shop is None:
        raise CommandError(f"no shop {ref!r} (give its id or seller nick)")
    return shop
