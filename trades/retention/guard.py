"""What an active consumer has not read yet, and so must stay.

An active consumer is an API key that is usable (not revoked, not expired) and has read the
change feed at least once: its position is the cursor last handed to it
(``trades.api.feed_position``). Commits at or after the slowest such position stay.
"""

from __future__ import annotations

from shops.models import Tenant
from trades.api.keys import usable_keys
from trades.feed.changes import BIGINT_MAX, InvalidCursor, _position


def first_unread_position(tenant: Tenant) -> int:
    """The lowest feed position an active consumer of ``tenant`` may still read; commits
    below it have been handed to every active consumer. With none, every commit may go."""
    positions = [BIGINT_MAX]
    readers = usable_keys(tenant).filter(feed_read_at__isnull=False)
    for cursor in readers.values_list("feed_cursor", flat=True):
        try:
            positions.append(_position(tenant, cursor)[0])
        except InvalidCursor:
            return 0  # a position we cannot place: keep everything of the tenant
    return min(positions)
