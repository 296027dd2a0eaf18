"""The console's banner: shops of the user's tenants that need the seller to authorize again."""

from __future__ import annotations

from django import template
from django.template import Context
from django.utils import translation
from django.utils.html import format_html

from shops.console.one_time import take_secrets
from shops.console.tenancy import WRITE_ROLES, has_role
from shops.models import Membership, Shop

register = template.Library()
SHOWN = 5


@register.inclusion_tag("admin/shops/reauth_banner.html", takes_context=True)
def reauth_banner(context: Context) -> dict[str, object]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {"shops": []}
    shops = Shop.objects.filter(status=Shop.Status.NEEDS_REAUTH)
    if not user.is_superuser:
        tenants = Membership.objects.filter(user=user).values("tenant_id")
        shops = shops.filter(tenant_id__in=tenants)
    found = list(shops.order_by("seller_nick")[: SHOWN + 1])
    return {"shops": found[:SHOWN], "more": len(found) > SHOWN}


@register.simple_tag(takes_context=True)
def may_connect(context: Context) -> bool:
    """Whether the user may connect shops (an owner or admin somewhere, or an operator)."""
    request = context.get("request")
    return request is not None and has_role(request, None, WRITE_ROLES)


@register.inclusion_tag("admin/shops/one_time_secrets.html", takes_context=True)
def one_time_secrets(context: Context) -> dict[str, object]:
    """New tokens and secrets, shown on this page and never again (shops/console/one_time.py)."""
    request = context.get("request")
    return {"secrets": take_secrets(request) if request is not None else []}


# Chinese reads large counts in 万 (10⁴) and 亿 (10⁸)
CHINESE_UNITS = ((100_000_000, "亿"), (10_000, "万"))


@register.filter
def counted(value: int | str | None) -> str:
    """A large count as the page's language reads it: ``123,456`` in English, ``12.35万`` in
    Chinese, with the exact figure on hover."""
    exact = grouped(value)
    if not str(value).isdigit() or not translation.get_language().startswith("zh"):
        return exact
    number = int(str(value))
    for size, unit in CHINESE_UNITS:
        if number >= size:
            short = f"{number / size:.2f}".rstrip("0").rstrip(".")
            return format_html('<span title="{}">{}{}</span>', exact, short, unit)
    return exact


@register.filter
def grouped(value: int | str | None) -> str:
    """``2,550``: a count with its thousands grouped."""
    try:
        return f"{int(value):,}"  # type: ignore[arg-type]  # None and words are caught below
    except (TypeError, ValueError):
        return str(value)
