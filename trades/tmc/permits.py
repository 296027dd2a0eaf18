"""Which shops' messages TMC sends us: a permit per shop (``taobao.tmc.user.permit``) and the
group their messages are queued in (``taobao.tmc.group.add``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.utils import timezone

from ordersync.taobao import api
from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import SessionInvalid, TopError
from shops.actions import mark_needs_reauth
from shops.models import Shop, TopApp
from shops.top import client_for_shop
from trades.tmc.models import TmcShop

log = logging.getLogger("trades.tmc")

GROUP_ADD_CHUNK = 200  # taobao.tmc.group.add takes at most 200 nicks
DEFAULT_GROUP = "default"  # where the platform queues a seller not added to a group


def permit_shops(
    app: TopApp,
    client: TopClient,
    shops: Iterable[Shop] | None = None,
    *,
    group: str = DEFAULT_GROUP,
) -> int:
    """Call ``taobao.tmc.user.permit`` for each active shop of ``app`` not yet permitted
    (all of them the first time) and put them in ``group``; return how many were
    permitted."""
    if shops is None:
        shops = Shop.objects.filter(app=app, status=Shop.Status.ACTIVE).exclude(
            tmc__permitted_at__isnull=False
        )
    permitted = []
    for shop in shops:
        try:
            api.tmc_user_permit(client_for_shop(shop, client), shop.session_key)
        except SessionInvalid as error:
            mark_needs_reauth(shop, f"TMC permit: {error}")
            continue
        except TopError as error:
            log.warning("TMC permit of shop %s failed (retried later): %s", shop.pk, error)
            continue
        TmcShop.objects.update_or_create(shop=shop, defaults={"permitted_at": timezone.now()})
        permitted.append(shop)
    if permitted:
        log.info("TMC: permitted %d shops of app %s", len(permitted), app.app_key)
        join_group(app, client, group, permitted)
    return len(permitted)


def check_group(group: str) -> str:
    """Refuse a group name the platform would refuse (tmc/taobao_tmc_group_add.json), at
    start rather than at every permit round."""
    if group != DEFAULT_GROUP and (group.startswith(DEFAULT_GROUP) or len(group) > 32):
        raise ValueError(f"TMC group {group!r}: at most 32 characters, not starting 'default'")
    return group


def join_group(
    app: TopApp, client: TopClient, group: str, shops: Iterable[Shop] | None = None
) -> int:
    """Put permitted shops (all active permitted shops of ``app`` by default) in the TMC
    ``group`` with ``taobao.tmc.group.add``; return how many joined.

    The platform queues a permitted seller's messages in the group ``default`` until the
    seller is added to a named group, so a consumer of any other group would get nothing.
    A chunk the platform refuses has its permits cleared: the next permit round permits
    those shops again and retries (meanwhile polling still brings their changes)."""
    if group == DEFAULT_GROUP:
        return 0
    if shops is None:
        shops = Shop.objects.filter(
            app=app, status=Shop.Status.ACTIVE, tmc__permitted_at__isnull=False
        )
    shops = list(shops)
    joined = 0
    for start in range(0, len(shops), GROUP_ADD_CHUNK):
        chunk = shops[start : start + GROUP_ADD_CHUNK]
        try:
            api.tmc_group_add(client, group, [shop.seller_nick for shop in chunk])
        except TopError as error:
            log.warning("TMC group %s: adding %d shops failed: %s", group, len(chunk), error)
            TmcShop.objects.filter(shop__in=chunk).update(permitted_at=None)
            continue
        joined += len(chunk)
    return joined


def forget_permit(shop: Shop) -> None:
    """The platform dropped the shop's subscription (revoked): permit again once active."""
    TmcShop.objects.filter(shop=shop).update(permitted_at=None)
