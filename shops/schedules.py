"""When each shop syncs and reconciles next: two due times on the shop row, kept in step with
its state, and one dispatcher that claims the due shops and queues their runs.

One django-q2 schedule per shop made the cluster's scheduler walk thousands of rows every
30 s, one transaction each; here one schedule (``dispatch-shops``, migration shops 0010) runs
``dispatch_due_shops`` every minute, which claims due shops in batches with
``SELECT … FOR UPDATE SKIP LOCKED`` (two dispatchers never claim the same shop), queues their
tasks in the same transaction (the ORM broker's rows commit with the stamps, or neither does)
and stamps each shop's next due time. Syncs go in batches: one task runs up to
``SYNC_SHOPS_PER_TASK`` shops one after the other (each under its own run locks, a failing
shop leaving the others to go on), so the broker's work per task (signing, polling, the
acknowledgement) is shared, and its result is not saved when it succeeds (a failed one is).
A batch out of time gives the shops it did not start back to the dispatcher, due now.
Task functions are named by their dotted path, so this module needs nothing from ``trades``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

# looked up at each call (tasks.async_task): tests replace django_q's one in one place
from django_q import tasks
from django_q.brokers import get_broker

from shops.models import Shop

SYNC_TASK = "trades.tasks.sync_shops_task"
RECONCILE_TASK = "trades.tasks.reconcile_shop_task"
PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
DEGRADED_MINUTES = 30
# A shop whose volume is not measured yet (new, or still backfilling) is polled often: taken
# for idle, a busy shop would wait half an hour for the run that finds out it is not.
UNMEASURED_MINUTES = 1
# The dispatcher runs every minute, give or take django-q2's 30 s scheduler tick: it queues
# the shops due before its next pass, so none waits a whole pass for its turn.
DISPATCH_AHEAD = timedelta(seconds=90)
DISPATCH_BATCH = 500
# Shops synced by one task. An idle shop's sync takes tens of milliseconds, about what the
# broker spends on a task; a busy one's run is bounded by ``SYNC_RUN_TIME_LIMIT``, which the
# whole batch shares.
SYNC_SHOPS_PER_TASK = 20
# At most this many shops waiting in the broker (about 90 s of work for 10,000 shops every
# 5 minutes; each queued task counted as ``SYNC_SHOPS_PER_TASK`` shops). A cluster that falls
# behind would otherwise get every shop queued again each interval, the queue growing without
# end; past it, due shops wait on their row and the most overdue are queued first at the next
# pass, so none is skipped.
DISPATCH_QUEUE_LIMIT = 3000


def interval_minutes(shop: Shop) -> int:
    if shop.degraded:
        return DEGRADED_MINUTES
    if shop.interval_minutes is None:
        return UNMEASURED_MINUTES
    return shop.interval_minutes


def next_reconcile_at(now: datetime) -> datetime:
    """The next ``RECONCILE_HOUR`` o'clock, platform time."""
    local = now.astimezone(PLATFORM_TZ)
    at = datetime.combine(local.date(), time(settings.RECONCILE_HOUR), tzinfo=PLATFORM_TZ)
    return at if at > local else at + timedelta(days=1)


def sync_schedules(shop: Shop) -> None:
    """Set the shop's due times to match its state. Idempotent.

    An active shop without a due time is due now; one whose interval shrank is due within the
    new interval; a daily reconcile at another hour than ``RECONCILE_HOUR`` moves to it. A
    shop that is not active has none, so the dispatcher never claims it.
    """
    now = timezone.now()
    if shop.status != Shop.Status.ACTIVE:
        shop.next_sync_at = shop.next_reconcile_at = None
    else:
        soonest = now + timedelta(minutes=interval_minutes(shop))
        shop.next_sync_at = min(shop.next_sync_at or now, soonest)
        if not _at_reconcile_hour(shop.next_reconcile_at):
            shop.next_reconcile_at = next_reconcile_at(now)
    Shop.objects.filter(pk=shop.pk).update(
        next_sync_at=shop.next_sync_at, next_reconcile_at=shop.next_reconcile_at
    )


def _at_reconcile_hour(when: datetime | None) -> bool:
    return when is not None and when.astimezone(PLATFORM_TZ).hour == settings.RECONCILE_HOUR


def dispatch_due_shops(now: datetime | None = None, batch: int = DISPATCH_BATCH) -> dict[str, int]:
    """Queue the sync of every active shop due by ``now`` + ``DISPATCH_AHEAD`` (most overdue
    first, while the broker holds fewer than ``DISPATCH_QUEUE_LIMIT`` tasks) and the reconcile
    of every one due by ``now``; return how many of each were queued."""
    now = now or timezone.now()
    counts = {"sync": 0, "reconcile": 0}
    room = DISPATCH_QUEUE_LIMIT - (get_broker().queue_size() or 0) * SYNC_SHOPS_PER_TASK
    while room > 0 and (
        claimed := _claim(now, min(batch, room), "next_sync_at", now + DISPATCH_AHEAD)
    ):
        counts["sync"] += len(claimed)
        room -= len(claimed)
    while claimed := _claim(now, batch, "next_reconcile_at", now):
        counts["reconcile"] += len(claimed)
    return counts


@transaction.atomic
def _claim(now: datetime, batch: int, field: str, due_by: datetime) -> list[Shop]:
    """Claim one batch of shops due by ``due_by`` on ``field``; queue and stamp them.

    Polled through the partial indexes ``shop_sync_due_idx`` / ``shop_reconcile_due_idx``.
    """
    shops = list(
        Shop.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=Shop.Status.ACTIVE, **{f"{field}__lte": due_by})
        .order_by(field)
        .only("pk", "status", "degraded", "interval_minutes", field)[:batch]
    )
    if field == "next_sync_at":
        for start in range(0, len(shops), SYNC_SHOPS_PER_TASK):
            chunk = [shop.pk for shop in shops[start : start + SYNC_SHOPS_PER_TASK]]
            tasks.async_task(SYNC_TASK, chunk, save=False)
        for shop in shops:
            shop.next_sync_at = next_due(shop.next_sync_at, now, interval_minutes(shop))
    else:
        for shop in shops:
            tasks.async_task(RECONCILE_TASK, shop.pk)
            shop.next_reconcile_at = next_reconcile_at(now)
    Shop.objects.bulk_update(shops, [field], batch_size=batch)
    return shops


def due_now(shop_ids: list[int]) -> None:
    """Give shops a batch did not start back to the dispatcher: due now, so the next pass
    queues them before the shops due later."""
    Shop.objects.filter(pk__in=shop_ids, status=Shop.Status.ACTIVE).update(
        next_sync_at=timezone.now()
    )


def next_due(due: datetime | None, now: datetime, minutes: int) -> datetime:
    """One interval after ``due``, keeping the shop's phase; a shop more than an interval
    behind (the dispatcher was down) skips the missed slots instead of running them all."""
    step = timedelta(minutes=minutes)
    due = due or now
    missed = max(0, int((now - due) / step))
    return due + (missed + 1) * step
