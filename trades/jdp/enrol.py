"""Enrolling shops in JDP and reading their status back.

Enrolment (``taobao.jushita.jdp.user.add``) names the RDS and how many days of history the
platform pushes too; a shop enrolled with history needs no ``trades.sold.get`` backfill to
be filled, and its polling cursors start at the enrolment, as a backfill's would. While JDP
is live for a shop its polling runs at ``JDP_SAFETY_POLL_MINUTES``: the safety net that
finds (and counts) what the push missed. Status 2 (the seller's session is invalid: the push
stopped) marks the shop ``needs_reauth`` as an invalid session anywhere does; status 0 or 3
(paused, deleted) only ends the channel: polling returns to its own interval.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ordersync.taobao import jdp
from ordersync.taobao.client import TopClient
from ordersync.taobao.types import format_time
from shops.actions import mark_needs_reauth
from shops.models import Checkpoint, Shop, TopApp
from shops.schedules import sync_schedules
from shops.top import client_for_app, client_for_shop
from trades.jdp.models import JDP_STREAMS, JdpRds, JdpShop
from trades.sync.backfill import start_cursors

log = logging.getLogger(__name__)


def enrol_shop(
    shop: Shop, rds: JdpRds, history_days: int = 0, client: TopClient | None = None
) -> JdpShop:
    """Enrol ``shop`` in JDP into ``rds`` with ``history_days`` (0..90) of history."""
    client = client_for_shop(shop, client)
    jdp.user_add(client, shop.session_key, rds.name, history_days)
    with transaction.atomic():
        state, _ = JdpShop.objects.update_or_create(
            shop=shop,
            defaults={
                "rds": rds,
                "history_days": history_days,
                "enrolled_at": timezone.now(),
                "status": JdpShop.Status.NORMAL,
                "status_checked_at": timezone.now(),
            },
        )
        for stream in JDP_STREAMS:
            Checkpoint.objects.get_or_create(shop=shop, stream=stream)
        if history_days:
            _backfill_by_push(shop, history_days)
            start_cursors(shop, client.clock.now().replace(microsecond=0))
        _poll_at_safety_cadence(shop, True)
    return state


def _backfill_by_push(shop: Shop, history_days: int) -> None:
    """The push brings the history: the shop's backfill is done (an unfinished one ends),
    and the onboarding's queued one finds nothing to do (``trades.tasks``)."""
    checkpoint, _ = Checkpoint.objects.select_for_update().get_or_create(
        shop=shop, stream=Checkpoint.Stream.BACKFILL
    )
    if checkpoint.progress.get("finished_at") and "filled_by" not in checkpoint.progress:
        return  # a backfill by the APIs filled it already
    checkpoint.progress = {
        "filled_by": "jdp",
        "history_days": history_days,
        "finished_at": format_time(timezone.now()),
    }
    checkpoint.save(update_fields=["progress"])


def filled_by_push(shop: Shop) -> bool:
    """Whether the shop's history came with its JDP enrolment (no backfill by the APIs)."""
    progress = (
        Checkpoint.objects.filter(shop=shop, stream=Checkpoint.Stream.BACKFILL)
        .values_list("progress", flat=True)
        .first()
    ) or {}
    return progress.get("filled_by") == "jdp"


def unenrol_shop(state: JdpShop, client: TopClient | None = None) -> None:
    """End the push for the shop (``jdp.user.delete``) and forget its enrolment; polling
    returns to its own interval. Its checkpoints stay: enrolling again resumes from them."""
    shop = state.shop
    jdp.user_delete(client_for_shop(shop, client), shop.seller_nick)
    with transaction.atomic():
        state.delete()
        _poll_at_safety_cadence(shop, False)


def refresh_statuses(app: TopApp, client: TopClient | None = None) -> dict[int, int]:
    """Read the status of every shop of ``app`` enrolled in JDP; act on it. Return the
    statuses by shop pk."""

    client = client or client_for_app(app)
    users = {u.user_id: u for u in _all_users(client)}
    seen = {}
    for state in JdpShop.objects.filter(shop__app=app).select_related("shop"):
        user = users.get(state.shop.seller_id)
        status = user.status if user is not None else JdpShop.Status.DELETED
        apply_status(state, status)
        seen[state.shop_id] = status
    return seen


def _all_users(client: TopClient) -> list[jdp.JdpUser]:
    users, page = [], 1
    while True:
        batch = jdp.users_get(client, page_no=page)
        users += batch
        if len(batch) < 200:
            return users
        page += 1


def apply_status(state: JdpShop, status: int) -> None:
    """Record ``status``; status 2 → the shop needs re-authorisation."""
    was_live = state.live
    JdpShop.objects.filter(pk=state.pk).update(status=status, status_checked_at=timezone.now())
    state.status = status
    shop = state.shop
    if status == JdpShop.Status.SESSION_INVALID and shop.status == Shop.Status.ACTIVE:
        mark_needs_reauth(shop, "JDP: the seller's session is invalid, the push stopped")
    if was_live != state.live:
        log.warning("shop %s: JDP %s (status %s)", shop.pk, "live" if state.live else "off", status)
        _poll_at_safety_cadence(shop, state.live)


def _poll_at_safety_cadence(shop: Shop, live: bool) -> None:
    """With JDP live, the shop is polled every ``JDP_SAFETY_POLL_MINUTES`` (fixed); without,
    auto mode chooses again."""
    if live:
        mode, minutes = Shop.IntervalMode.FIXED, settings.JDP_SAFETY_POLL_MINUTES
    else:
        mode, minutes = Shop.IntervalMode.AUTO, shop.interval_minutes
    Shop.objects.filter(pk=shop.pk).update(interval_mode=mode, interval_minutes=minutes)
    shop.interval_mode, shop.interval_minutes = mode, minutes
    sync_schedules(shop)
