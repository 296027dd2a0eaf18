"""Where each API key's reader stands in its tenant's change feed, and how far behind the
head it is: the cursor last handed to the key, and the age of the oldest change it has not
read (0 when it has read everything visible)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from trades.api.key_models import ApiKey
from trades.feed.changes import InvalidCursor, read_changes_page


@dataclass
class FeedPosition:
    read_at: datetime | None
    lag_seconds: float | None  # None: the key never read the feed
    caught_up: bool | None

    def as_dict(self) -> dict:
        return {
            "read_at": self.read_at,
            "lag_seconds": self.lag_seconds,
            "caught_up": self.caught_up,
        }


def note_read(key: ApiKey, cursor: str) -> None:
    """Record the cursor a feed read handed to ``key`` (one UPDATE, only when it moved or a
    minute passed, so a reader polling an idle feed does not write on every poll)."""
    now = timezone.now()
    stale = now - timedelta(minutes=1)
    moved = ApiKey.objects.filter(pk=key.pk).exclude(feed_cursor=cursor)
    if not moved.update(feed_cursor=cursor, feed_read_at=now):
        ApiKey.objects.filter(pk=key.pk, feed_read_at__lt=stale).update(feed_read_at=now)


def feed_position(key: ApiKey, now: datetime | None = None) -> FeedPosition:
    """The key's position: one indexed read of the first change after its cursor."""
    if key.feed_read_at is None:
        return FeedPosition(None, None, None)
    now = now or timezone.now()
    try:
        events, _, _ = read_changes_page(key.tenant, key.feed_cursor, 1)
    except InvalidCursor:
        return FeedPosition(key.feed_read_at, None, None)
    if not events:
        return FeedPosition(key.feed_read_at, 0.0, True)
    lag = max(0.0, (now - events[0].created_at).total_seconds())
    return FeedPosition(key.feed_read_at, round(lag, 1), False)
