"""Tenants asking the workers to run a job for a shop now (``POST shops/{id}/jobs/``, and
the console's shop actions for tenant members; operators' go straight to the queue).

A backfill re-reads up to 90 days through the app's TOP budget, which all the app's shops
share; so a shop has at most one requested job of a kind queued or running, and after one
is requested the next waits a cooldown (``SHOP_BACKFILL_COOLDOWN_SECONDS`` for backfills,
``SHOP_JOB_COOLDOWN_SECONDS`` for the others). A backfill left unfinished is not requested
again: it resumes by itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from shops import audit
from shops.caps import OverCap, TooSoon
from shops.models import Checkpoint, JobRequest, Shop

# The task entry points live with the sync engine; queued by name so shops does not import
# trades (imports point trades -> shops).
JOB_TASKS = {
    "sync": "trades.tasks.sync_shop_task",
    "backfill": "trades.tasks.backfill_shop_task",
    "reconcile": "trades.tasks.reconcile_shop_task",
    "refetch": "trades.tasks.refetch_shop_task",
}

_TABLE = JobRequest._meta.db_table
# One statement, so two requests at once cannot both pass: the row is claimed when there is
# none, or when the last request has finished (or was lost) and its cooldown is over.
_CLAIM_SQL = f"""
    INSERT INTO {_TABLE} AS r (shop_id, kind, requested_at, finished_at)
    VALUES (%(shop)s, %(kind)s, %(now)s, NULL)
    ON CONFLICT (shop_id, kind) DO UPDATE SET requested_at = %(now)s, finished_at = NULL
    WHERE r.requested_at <= %(cooled)s AND (r.finished_at IS NOT NULL OR r.requested_at <= %(lost)s)
    RETURNING r.id
"""


def cooldown_seconds(kind: str) -> int:
    if kind == "backfill":
        return settings.SHOP_BACKFILL_COOLDOWN_SECONDS
    return settings.SHOP_JOB_COOLDOWN_SECONDS


def lost_after() -> timedelta:
    """A requested job not finished by then is taken as lost (its worker died and django-q2
    gave up retrying it): long past the ``Q_RETRY`` after which it is retried."""
    return timedelta(seconds=3 * settings.Q_RETRY)


@transaction.atomic
def request_job(shop: Shop, kind: str, *args: object, **q_options: str) -> str:
    """Queue job ``kind`` (sync, backfill, reconcile) for ``shop`` (``args`` follow the
    shop's id); return the task id. ``q_options`` go to django-q2 (e.g. ``hook``).

    Raises :class:`~shops.caps.OverCap` (409) while one is queued or running, or a backfill
    is unfinished, and :class:`~shops.caps.TooSoon` (429) within the cooldown.
    """
    try:
        task = JOB_TASKS[kind]
    except KeyError:
        raise ValueError(
            f"unknown job kind {kind!r}; expected one of {sorted(JOB_TASKS)}"
        ) from None
    if kind == "backfill" and _backfill_unfinished(shop):
        raise OverCap(
            _("the shop's backfill is unfinished and resumes by itself"),
            _("one backfill at a time per shop"),
        )
    _claim(shop, kind, timezone.now())
    record_job(shop, kind, args)
    return async_task(task, shop.pk, *args, task_name=f"{kind} shop {shop.pk}", **q_options)


def record_job(shop: Shop, kind: str, args: tuple) -> None:
    """The audit entry of a job someone asked for (``shop.sync``, ``shop.refetch``, ...)."""
    audit.record(f"shop.{kind}", target=shop, details={"args": list(args)} if args else {})


def _backfill_unfinished(shop: Shop) -> bool:
    progress = (
        Checkpoint.objects.filter(shop=shop, stream=Checkpoint.Stream.BACKFILL)
        .values_list("progress", flat=True)
        .first()
    ) or {}
    return bool(progress.get("until")) and not progress.get("finished_at")


def _claim(shop: Shop, kind: str, now: datetime) -> None:
    cooldown = cooldown_seconds(kind)
    lost = now - lost_after()
    params: dict[str, int | str | datetime] = {
        "shop": shop.pk,
        "kind": kind,
        "now": now,
        "cooled": now - timedelta(seconds=cooldown),
        "lost": lost,
    }
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        if cursor.fetchone():
            return
    last = JobRequest.objects.get(shop=shop, kind=kind)
    if last.finished_at is None and last.requested_at > lost:
        raise OverCap(
            _("a %(kind)s of this shop requested at %(at)s is still queued or running")
            % {"kind": kind, "at": f"{last.requested_at:%Y-%m-%d %H:%M:%S %Z}"},
            _("one queued or running %(kind)s per shop") % {"kind": kind},
        )
    setting = (
        "SHOP_BACKFILL_COOLDOWN_SECONDS" if kind == "backfill" else "SHOP_JOB_COOLDOWN_SECONDS"
    )
    wait = (last.requested_at + timedelta(seconds=cooldown) - now).total_seconds()
    message = _("a %(kind)s of this shop was requested less than %(seconds)d s ago") % {
        "kind": kind,
        "seconds": cooldown,
    }
    raise TooSoon(message, setting, wait)


def job_finished(shop_id: int, kind: str) -> None:
    """A task of ``kind`` for the shop has ended: a requested one is no longer running."""
    JobRequest.objects.filter(shop_id=shop_id, kind=kind, finished_at__isnull=True).update(
        finished_at=timezone.now()
    )
