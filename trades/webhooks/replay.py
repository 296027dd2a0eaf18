"""Replays: the changes of the feed re-emitted as events to one endpoint, on request.

A partner whose receiver lost a day, or a new endpoint that needs last week, asks for the
changes committed in a time range (or those of some trades) again. The replay reads them
from the change feed in commit order and writes, a page at a time, new events marked with
the replay (``replay.id`` in the body) and a delivery of each to that endpoint only: other
endpoints see nothing of it. The normal workers deliver them, with the normal retries.

Bounded: ``WEBHOOKS_REPLAY_MAX_CHANGES`` changes per replay (counted when it is asked for),
at most 100 tids, one open replay per endpoint, and a page is emitted only while the
tenant's deliveries waiting for a first try and the replay's own pending ones leave room
(``WEBHOOKS_REDELIVER_PAGE``), so one replay never floods the shared queue nor piles up
retries behind a failing receiver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# looked up at each call (tasks.async_task): tests replace django_q's one in one place
from django_q import tasks

from shops import audit, caps
from shops.models import Shop
from trades.feed.models import ChangeEvent, FeedCommit
from trades.webhooks.endpoints import waiting_deliveries
from trades.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookReplay
from trades.webhooks.outbox import replay_change_events

REPLAY_TASK = "trades.webhooks.tasks.replay_webhooks_task"
MAX_TIDS = 100
PAGE = 500  # changes read per step at most
TAKEN_SECONDS = 10
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
START = [BEGINNING.isoformat(), 0, 0]
State = WebhookReplay.State
OPEN = (State.QUEUED, State.RUNNING)


class InvalidReplay(ValueError):
    """A replay that cannot be asked for; the message says why (a 400)."""


# The tenant's changes in commit order: its commits by time (``feedcommit_tenant_time_idx``),
# each commit's changes by id (``changeevent_tenant_feed_idx``); with tids, only theirs.
_CHANGES_SQL = f"""
    SELECT c.committed_at, c.id, e.id
    FROM {FeedCommit._meta.db_table} c
    JOIN {ChangeEvent._meta.db_table} e ON e.tenant_id = c.tenant_id AND e.txid = c.txid
    WHERE c.tenant_id = %(tenant)s AND c.committed_at >= %(since)s AND c.committed_at < %(until)s
      AND (c.committed_at, c.id, e.id) > (%(at)s::timestamptz, %(position)s, %(change)s)
      {{tids}}
    ORDER BY c.committed_at, c.id, e.id
    LIMIT %(limit)s
"""
_TIDS = "AND e.entity = 'trade' AND e.key = ANY(%(tids)s) AND e.shop_id = ANY(%(shops)s)"


def _changes(replay: WebhookReplay, after: list, limit: int) -> list[tuple]:
    """Up to ``limit`` (commit time, position, change id) of the replay's changes after
    ``after``."""
    params = {
        "tenant": replay.tenant_id,
        "since": replay.since or BEGINNING,
        "until": replay.until,
        "at": after[0],
        "position": after[1],
        "change": after[2],
        "limit": limit,
    }
    sql = _CHANGES_SQL.format(tids=_TIDS if replay.tids else "")
    if replay.tids:
        shops = Shop.objects.filter(tenant_id=replay.tenant_id).values_list("pk", flat=True)
        params.update(tids=list(replay.tids), shops=list(shops))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass(frozen=True)
class Wanted:
    since: datetime | None
    until: datetime
    tids: list[int]


def check(since: datetime | None, until: datetime | None, tids: list[int] | None) -> Wanted:
    """What a request may ask: a range of commit time, tids, or both. ``until`` defaults
    to now and is capped at now; without tids, ``since`` is required."""
    now, tids = timezone.now(), sorted(set(tids or []))
    if since is None and not tids:
        raise InvalidReplay(_("give since (and until), or tids, or both"))
    if len(tids) > MAX_TIDS:
        raise InvalidReplay(_("at most %(n)d tids per replay") % {"n": MAX_TIDS})
    if any(tid <= 0 for tid in tids):
        raise InvalidReplay(_("tids must be positive integers"))
    if since is not None and since >= now:
        raise InvalidReplay(_("since is in the future: nothing was committed then yet"))
    until = min(until or now, now)
    if since is not None and until <= since:
        raise InvalidReplay(_("until must be later than since"))
    return Wanted(since, until, tids)


@transaction.atomic
def request_replay(
    endpoint: WebhookEndpoint,
    since: datetime | None = None,
    until: datetime | None = None,
    tids: list[int] | None = None,
    requested_by: str = "",
) -> WebhookReplay:
    """Ask for the replay of ``endpoint``'s changes; return it, queued for a worker.

    Raises :class:`InvalidReplay` (400) for a bad range, too many tids or changes, or a
    disabled endpoint, and :class:`~shops.caps.OverCap` (409) while the endpoint has an
    unfinished replay.
    """
    wanted = check(since, until, tids)
    if not endpoint.is_active:
        raise InvalidReplay(_("the endpoint is disabled; enable it first"))
    caps.lock_tenant(endpoint.tenant_id)
    if WebhookReplay.objects.filter(endpoint=endpoint, state__in=OPEN).exists():
        raise caps.OverCap(
            str(_("the endpoint has a replay queued or running; wait for it to finish")),
            "one open replay per endpoint",
        )
    replay = WebhookReplay(
        tenant_id=endpoint.tenant_id,
        endpoint=endpoint,
        since=wanted.since,
        until=wanted.until,
        tids=wanted.tids,
        requested_by=requested_by[:200],
        position=START,
    )
    replay.changes_total = _count(replay)
    replay.save()
    audit.record(audit.Action.WEBHOOK_REPLAY, target=endpoint, details=_asked(replay))
    transaction.on_commit(partial(queue_replay, replay.pk))
    return replay


def _asked(replay: WebhookReplay) -> dict[str, Any]:
    """What a replay asked for, as the audit log keeps it."""
    since = replay.since.isoformat() if replay.since else None
    return {
        "replay": replay.public_id,
        "since": since,
        "until": replay.until.isoformat(),
        "tids": [str(tid) for tid in replay.tids],
        "changes": replay.changes_total,
    }


def _count(replay: WebhookReplay) -> int:
    most = settings.WEBHOOKS_REPLAY_MAX_CHANGES
    found = len(_changes(replay, START, most + 1))
    if found > most:
        raise InvalidReplay(
            _(
                "the range holds more than %(most)d changes (WEBHOOKS_REPLAY_MAX_CHANGES): "
                "replay it in narrower ranges"
            )
            % {"most": most}
        )
    return found


def queue_replay(replay_id: int) -> None:
    tasks.async_task(REPLAY_TASK, replay_id, task_name=f"replay {replay_id}")


def room(replay: WebhookReplay) -> int:
    """How many changes the next step may emit: a page, less the tenant's deliveries still
    waiting for a first try and the replay's own pending ones."""
    page = settings.WEBHOOKS_REDELIVER_PAGE
    pending = WebhookDelivery.objects.filter(
        event__replay=replay, state=WebhookDelivery.State.PENDING
    )[:page].count()
    busy = max(pending, waiting_deliveries(replay.tenant_id, page))
    return min(PAGE, page - busy)


def advance(replay_id: int, joining: bool = False) -> bool | None:
    """Emit the replay's next page if there is room; return whether it has finished, or
    None when another worker is stepping it.

    One worker per replay: a step holds the replay's row lock, and a worker ``joining`` a
    replay stepped within ``TAKEN_SECONDS`` (a worker steps at least every second) leaves it
    to that worker, so a task queued twice (the sweep, a slow queue) does not run twice.
    """
    with transaction.atomic():
        replay = (
            WebhookReplay.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=replay_id)
            .first()
        )
        if replay is None or (joining and _taken(replay)):
            return None
        return _step(replay)


def _taken(replay: WebhookReplay) -> bool:
    fresh = timezone.now() - timedelta(seconds=TAKEN_SECONDS)
    touched = replay.touched_at
    return replay.state == State.RUNNING and touched is not None and touched > fresh


def _step(replay: WebhookReplay) -> bool:
    now = timezone.now()
    if replay.state not in OPEN:
        return True
    replay.touched_at, replay.started_at = now, replay.started_at or now
    replay.state = State.RUNNING
    if not replay.endpoint.is_active:
        return _finish(replay, State.FAILED, str(_("the endpoint was disabled")))
    space = room(replay)
    if space <= 0:
        replay.save(update_fields=["touched_at", "started_at", "state"])
        return False
    rows = _changes(replay, replay.position, space)
    replay.emitted += len(replay_change_events([r[2] for r in rows], replay.endpoint_id, replay.pk))
    replay.changes_done += len(rows)
    if rows:
        at, position, change_id = rows[-1]
        replay.position = [at.isoformat(), position, change_id]
    if len(rows) < space:
        return _finish(replay, State.SUCCEEDED)
    replay.save()
    return False


def _finish(replay: WebhookReplay, state: str, error: str = "") -> bool:
    replay.state, replay.error, replay.finished_at = state, error[:500], timezone.now()
    replay.save()
    return True


def run_replay(replay_id: int, seconds: float = 50, pause: float = 1.0) -> bool | None:
    """Step the replay for up to ``seconds``, pausing while the queue has no room; return
    whether it has finished, or None when another worker has it."""
    deadline, joining = time.monotonic() + seconds, True
    while time.monotonic() < deadline:
        done = advance(replay_id, joining)
        if done is None or done:
            return done
        joining = False
        time.sleep(pause)
    return False


def resume_stale_replays(stale_seconds: float = 120) -> list[int]:
    """Queue again the open replays no worker has stepped for ``stale_seconds`` (a lost task,
    a dead worker); return their ids."""
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    stale = WebhookReplay.objects.filter(state__in=OPEN).filter(
        Q(touched_at__lt=cutoff) | Q(touched_at__isnull=True, created_at__lt=cutoff)
    )
    ids = list(stale.order_by("id").values_list("pk", flat=True)[:100])
    for replay_id in ids:
        queue_replay(replay_id)
    return ids


def deliveries_by_state(replay_ids: list[int]) -> dict[int, dict[str, int]]:
    """For each replay, its events' deliveries per state (one grouped query)."""
    found: dict[int, dict[str, int]] = {
        pk: {s: 0 for s in WebhookDelivery.State.values} for pk in replay_ids
    }
    rows = (
        WebhookDelivery.objects.filter(event__replay_id__in=replay_ids)
        .values("event__replay_id", "state")
        .annotate(n=Count("id"))
    )
    for row in rows:
        found[row["event__replay_id"]][row["state"]] = row["n"]
    return found
