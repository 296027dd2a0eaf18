"""Seller onboarding by OAuth and keeping the sessions it gives alive.

``connect_shop`` turns a token response into a shop (a seller authorized again keeps its
shop and gets the new tokens). ``refresh_due_tokens`` runs on a schedule and refreshes
sessions before they expire; a refresh the platform refuses marks the shop ``needs_reauth``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ordersync.taobao import oauth
from ordersync.taobao.errors import SessionInvalid, TopError
from shops import actions
from shops.models import Shop, Tenant, TopApp
from shops.top import app_credentials

log = logging.getLogger(__name__)


class SellerOwnedElsewhere(Exception):
    """The seller's shop belongs to another tenant; it cannot be connected here."""


@transaction.atomic
def connect_shop(tenant: Tenant, app: TopApp, token: oauth.TokenResult) -> tuple[Shop, bool]:
    """Create the shop of the authorizing seller, or give its existing shop the new tokens.

    Return ``(shop, created)``; a new shop gets its backfill queued and its schedules.
    Raises SellerOwnedElsewhere when another tenant already has this seller.
    """
    seller_id = int(token.taobao_user_id)
    # the row lock keeps two callbacks of the same seller from racing past the tenant check
    existing = Shop.objects.select_for_update().filter(app=app, seller_id=seller_id).first()
    if existing is not None and existing.tenant_id != tenant.pk:
        raise SellerOwnedElsewhere(
            f"the seller {token.taobao_user_nick} is already connected by another tenant"
        )
    return actions.onboard_shop(
        tenant=tenant,
        app=app,
        seller_nick=token.taobao_user_nick or (existing.seller_nick if existing else ""),
        seller_id=seller_id,
        session_key=token.access_token,
        refresh_token=token.refresh_token,
        session_expires_at=token.expires_at,
        refresh_expires_at=token.refresh_expires_at,
        platform=existing.platform if existing else Shop.Platform.TAOBAO,
    )


def due_for_refresh(now: datetime | None = None) -> QuerySet[Shop]:
    """Shops whose session expires within ``TOKEN_REFRESH_AHEAD_SECONDS`` (and can refresh)."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.TOKEN_REFRESH_AHEAD_SECONDS)
    return (
        Shop.objects.filter(session_expires_at__lte=horizon)
        .exclude(status__in=[Shop.Status.NEEDS_REAUTH, Shop.Status.DISABLED])
        .exclude(refresh_token="")
        .filter(Q(refresh_expires_at__isnull=True) | Q(refresh_expires_at__gt=now))
    )


def expired_without_refresh(now: datetime | None = None) -> QuerySet[Shop]:
    """Shops whose session has expired and which hold no usable refresh token."""
    now = now or timezone.now()
    return (
        Shop.objects.filter(session_expires_at__lte=now)
        .exclude(status__in=[Shop.Status.NEEDS_REAUTH, Shop.Status.DISABLED])
        .filter(Q(refresh_token="") | Q(refresh_expires_at__lte=now))
    )


def refresh_shop_token(shop_id: int) -> str:
    """Refresh one shop's session; return what happened ("refreshed", "needs_reauth", ...).

    The refresh token rotates: the platform answers a second use of the old one with
    invalid_grant. So the refresh runs holding the shop's row lock, HTTP call included, and
    a second worker skips the shop instead of spending a token that is already used.
    """
    with transaction.atomic():
        shop = (
            Shop.objects.select_for_update(skip_locked=True)
            .select_related("app")
            .filter(pk=shop_id)
            .first()
        )
        if shop is None:
            return "locked"
        if not due_for_refresh().filter(pk=shop.pk).exists():
            return "not due"
        try:
            token = oauth.refresh(app_credentials(shop.app), shop.refresh_token)
        except SessionInvalid as error:
            actions.mark_needs_reauth(shop, f"token refresh refused: {error}")
            return "needs_reauth"
        except TopError as error:
            log.warning("token refresh of shop %s failed, will retry: %s", shop.pk, error)
            return "failed"
        shop.session_key = token.access_token
        shop.refresh_token = token.refresh_token or shop.refresh_token
        shop.session_expires_at = token.expires_at
        shop.refresh_expires_at = token.refresh_expires_at
        shop.save(
            update_fields=[
                "session_key",
                "refresh_token",
                "session_expires_at",
                "refresh_expires_at",
                "updated",
            ]
        )
        log.info("refreshed the session of shop %s until %s", shop.pk, token.expires_at)
        return "refreshed"


def refresh_due_tokens() -> dict[str, int]:
    """Refresh every due session; mark expired sessions that cannot refresh. Return counts."""
    outcomes: dict[str, int] = {}
    for shop in expired_without_refresh():
        actions.mark_needs_reauth(shop, "the session expired and cannot be refreshed")
        outcomes["needs_reauth"] = outcomes.get("needs_reauth", 0) + 1
    for shop_id in due_for_refresh().values_list("pk", flat=True):
        outcome = refresh_shop_token(shop_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
