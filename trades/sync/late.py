"""Late arrivals: changes the platform's lists showed later than the windows allowed for.

The lists' visibility lag varies (minutes in peaks) and can outgrow ``SYNC_LAG_SECONDS +
SYNC_OVERLAP_SECONDS``. A change is a *late arrival* when we first store it although its
window key (``modified``, or ``async_modified`` with ``incrementv.get``) is older than a
window end we had already passed: the window that covered it listed it not. Three places
find one: a window's overlap, the periodic sweep behind the cursor, and a TMC message for a
change no window listed (:func:`note_pushed`).

Each late arrival gives a lag sample: the lag the windows kept plus how far behind the
passed end it arrived (it was not visible ``lag + (end − key)`` after it changed), never more
than the time from its key to when a list showed it. The largest recent sample is the
checkpoint's ``measured_lag_seconds``; it halves every
``SYNC_LAG_HALF_LIFE_SECONDS`` and is capped at ``SYNC_SWEEP_SECONDS`` (the longest lag the
engine reckons with). Where it passes the lag the windows keep (``SYNC_LAG_SECONDS``, or
``VISIBLE_LAG_SECONDS`` on visibility time), the excess widens both the lag and the overlap
of that shop's windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ordersync.taobao.types import parse_time
from shops.models import Checkpoint, Shop
from trades.feed.changes import Change

MODIFIED = "modified"  # windows on modification time (increment.get, refunds.receive.get)
VISIBLE = "async_modified"  # windows on visibility time (incrementv.get): no lag gap
# How far windows on visibility time trail platform now: a change is listed from the second
# it became visible, so only our clock's error and the second's resolution need room.
VISIBLE_LAG_SECONDS = 2


def lag_and_overlap(checkpoint: Checkpoint, source: str) -> tuple[timedelta, timedelta]:
    """The lag and overlap the next window of ``checkpoint`` keeps: the settings, both
    widened by what the measured lag exceeds the lag setting (rule 2).

    On ``modified``: ``SYNC_LAG_SECONDS`` and ``SYNC_OVERLAP_SECONDS``. On visibility time
    there is no lag gap: ``VISIBLE_LAG_SECONDS`` (at most ``SYNC_LAG_SECONDS``) and
    ``SYNC_VISIBLE_OVERLAP_SECONDS``, which only has to cover the bounds, the second's
    resolution and our clock's error; a change listed after windows on its
    ``async_modified`` had passed (a late arrival there) widens both as on ``modified``."""
    lag = set_lag(source)
    overlap: float = settings.SYNC_OVERLAP_SECONDS
    if source == VISIBLE:
        overlap = settings.SYNC_VISIBLE_OVERLAP_SECONDS
    excess = max(0.0, checkpoint.measured_lag() - lag)
    return timedelta(seconds=round(lag + excess)), timedelta(seconds=round(overlap + excess))


def set_lag(source: str) -> float:
    """The lag windows on ``source`` keep before any widening."""
    lag: float = settings.SYNC_LAG_SECONDS
    return min(lag, VISIBLE_LAG_SECONDS) if source == VISIBLE else lag


def samples(
    changed: Iterable[int],
    keys: Mapping[int, datetime | None],
    passed: datetime,
    lag: timedelta,
    seen_at: datetime | None = None,
) -> list[float]:
    """Lag samples of the ``changed`` records (key → window key) that lie behind ``passed``,
    the window end we had already passed with ``lag``: one per late arrival. A record listed
    at ``seen_at`` was visible by then: its sample is never more than ``seen_at − key``."""
    out = []
    for key in changed:
        at = keys.get(key)
        if at is not None and at < passed:
            sample = lag + (passed - at)
            if seen_at is not None:
                sample = min(sample, seen_at - at)
            out.append(sample.total_seconds())
    return out


def window_keys(items: list[dict[str, Any]], key: str, source: str) -> dict[int, datetime | None]:
    """Each listed record's window key (``modified`` or ``async_modified``), by its key."""
    return {item[key]: parse_time(item.get(source)) for item in items if key in item}


@transaction.atomic
def note(shop: Shop, stream: str, found: list[float]) -> None:
    """Count late arrivals on the stream's checkpoint and raise its measured lag (a short
    transaction of its own: the checkpoint row is locked only for this update)."""
    if not found:
        return
    checkpoint = Checkpoint.objects.select_for_update().get(shop=shop, stream=stream)
    now = timezone.now()
    sample = min(max(found), float(settings.SYNC_SWEEP_SECONDS or max(found)))
    checkpoint.measured_lag_seconds = round(max(checkpoint.measured_lag(now), sample))
    checkpoint.lag_measured_at = now
    checkpoint.late_arrivals += len(found)
    checkpoint.save(update_fields=["measured_lag_seconds", "lag_measured_at", "late_arrivals"])


def note_pushed(shop: Shop, changes: list[Change]) -> int:
    """Count the changes a push channel (TMC) wrote that a polling window had passed without
    listing (``modified`` older than the cursor of a stream windowed on ``modified``);
    return how many. Call it after the push's write committed."""
    cursors = {
        c.stream: c
        for c in Checkpoint.objects.filter(
            shop=shop, stream__in=["trades", "refunds"], cursor__isnull=False
        )
    }
    late = 0
    for stream, entity in (("trades", "trade"), ("refunds", "refund")):
        checkpoint = cursors.get(stream)
        if checkpoint is None or checkpoint.cursor is None:
            continue
        if checkpoint.progress.get("source", MODIFIED) != MODIFIED:
            continue
        lag, _ = lag_and_overlap(checkpoint, MODIFIED)
        keys = {c.key: c.modified for c in changes if c.entity == entity}
        found = samples(keys, keys, checkpoint.cursor, lag)
        note(shop, stream, found)
        late += len(found)
    return late
