"""State changes of shops: each a verb, one transaction, schedules kept in step."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

# looked up at each call (tasks.async_task): tests replace django_q's one in one place
from django_q import tasks

from shops import audit, schedules
from shops.jobs import JOB_TASKS
from shops.models import SYNCED_STREAMS, Checkpoint, Shop, Tenant, TopApp
from shops.signals import shop_needs_reauth

log = logging.getLogger(__name__)


def ensure_checkpoints(shop: Shop) -> None:
    for stream in SYNCED_STREAMS:
        Checkpoint.objects.get_or_create(shop=shop, stream=stream)


@transaction.atomic
def mark_needs_reauth(shop: Shop, reason: str) -> None:
    """The session is invalid: stop the shop's schedules until it is authorized again."""
    updated = Shop.objects.filter(pk=shop.pk).exclude(status=Shop.Status.NEEDS_REAUTH)
    now = timezone.now()
    if updated.update(
        status=Shop.Status.NEEDS_REAUTH, status_reason=reason[:500], authorization_lost_at=now
    ):
        log.warning("shop %s needs re-authorization: %s", shop.pk, reason)
        shop.authorization_lost_at = now
        audit.record(audit.Action.SHOP_NEEDS_REAUTH, target=shop, details={"reason": reason})
        shop_needs_reauth.send(sender=Shop, shop=shop, reason=reason[:500])
    shop.status, shop.status_reason = Shop.Status.NEEDS_REAUTH, reason[:500]
    schedules.sync_schedules(shop)


@transaction.atomic
def pause_shop(shop: Shop) -> None:
    rows = Shop.objects.filter(pk=shop.pk).exclude(status=Shop.Status.PAUSED)
    if rows.update(status=Shop.Status.PAUSED):
        audit.record(audit.Action.SHOP_PAUSED, target=shop, changes=_status(shop, "paused"))
    shop.status = Shop.Status.PAUSED
    schedules.sync_schedules(shop)


@transaction.atomic
def resume_shop(shop: Shop) -> None:
    rows = Shop.objects.filter(pk=shop.pk).exclude(status=Shop.Status.ACTIVE)
    if rows.update(status=Shop.Status.ACTIVE, status_reason=""):
        audit.record(audit.Action.SHOP_RESUMED, target=shop, changes=_status(shop, "active"))
    shop.status, shop.status_reason = Shop.Status.ACTIVE, ""
    schedules.sync_schedules(shop)


def _status(shop: Shop, new: str) -> dict[str, list[str]]:
    return {"status": [shop.status, new]}


@transaction.atomic
def set_degraded(shop: Shop, degraded: bool, reason: str = "") -> None:
    """Enter or leave degraded mode: fewer, larger pulls while a stream keeps failing.

    ``reason`` says which failures; ``degraded_since`` keeps the time the shop entered the
    mode while it stays in it (a new reason only updates the text).
    """
    reason = reason[:500] if degraded else ""
    now = timezone.now()
    rows = Shop.objects.filter(pk=shop.pk)
    if rows.exclude(degraded=degraded).update(
        degraded=degraded, degraded_since=now if degraded else None, degraded_reason=reason
    ):
        verb = "enters" if degraded else "leaves"
        log.warning("shop %s %s degraded mode: %s", shop.pk, verb, reason or "a run succeeded")
        shop.degraded_since = now if degraded else None
    elif degraded:
        rows.update(degraded_reason=reason)
    shop.degraded, shop.degraded_reason = degraded, reason
    schedules.sync_schedules(shop)


@transaction.atomic
def set_interval(shop: Shop, minutes: int) -> None:
    """Record the interval auto mode chose (1-30 minutes) and move the schedule to it."""
    minutes = max(1, min(30, minutes))
    if shop.interval_minutes == minutes:
        return
    Shop.objects.filter(pk=shop.pk).update(interval_minutes=minutes)
    shop.interval_minutes = minutes
    schedules.sync_schedules(shop)


@transaction.atomic
def onboard_shop(
    *,
    tenant: Tenant,
    app: TopApp,
    seller_nick: str,
    seller_id: int,
    session_key: str,
    refresh_token: str = "",
    platform: str = Shop.Platform.TAOBAO,
    session_expires_at: datetime | None = None,
    refresh_expires_at: datetime | None = None,
    backfill: bool = True,
) -> tuple[Shop, bool]:
    """Add a shop, or give an existing one (same app and seller) its new tokens.

    Return ``(shop, created)``. A new shop, or one that needed re-authorization, is active; a
    shop an operator paused or disabled keeps that status (and the new tokens) until resumed.
    The shop gets its checkpoints and schedules, and a new one a queued backfill (after the
    commit, so the worker finds the shop).
    """
    tokens = {
        "tenant": tenant,
        "seller_nick": seller_nick,
        "session_key": session_key,
        "refresh_token": refresh_token,
        "session_expires_at": session_expires_at,
        "refresh_expires_at": refresh_expires_at,
        "platform": platform,
    }
    # update_or_create locks the row, so the status read below is the one that is kept
    shop, created = Shop.objects.update_or_create(
        app=app,
        seller_id=seller_id,
        defaults=tokens,
        create_defaults={**tokens, "status": Shop.Status.ACTIVE, "status_reason": ""},
    )
    if not created and shop.status == Shop.Status.NEEDS_REAUTH:
        Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.ACTIVE, status_reason="")
        shop.status, shop.status_reason = Shop.Status.ACTIVE, ""
    if shop.authorization_lost_at is not None:  # authorized again: nothing to erase
        Shop.objects.filter(pk=shop.pk).update(authorization_lost_at=None)
        shop.authorization_lost_at = None
    connected = audit.Action.SHOP_CONNECTED if created else audit.Action.SHOP_REAUTHORIZED
    audit.record(connected, target=shop, details={"seller_id": seller_id, "app": app.app_key})
    ensure_checkpoints(shop)
    schedules.sync_schedules(shop)
    if created and backfill:
        transaction.on_commit(lambda: queue_job(shop, "backfill"))
    return shop, created


def queue_job(shop: Shop, kind: str, *args: object) -> str:
    """Queue one job for the workers (``args`` follow the shop's id); return the task id.

    Operators' and the system's jobs: no cap, no cooldown (tenants' go through
    :func:`shops.jobs.request_job`).
    """
    return tasks.async_task(JOB_TASKS[kind], shop.pk, *args, task_name=f"{kind}-shop-{shop.pk}")
