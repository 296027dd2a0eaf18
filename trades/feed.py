"""The change feed: writers append inside their transaction, partners read it gaplessly.

Why not ``id > last_id``: a sequence value is taken at INSERT but becomes visible at COMMIT, so
a transaction that inserted id 10 and commits after the one that inserted id 11 would be
skipped by a reader that already moved past 11.

The scheme: every row stores the id of the transaction that wrote it (``txid``, xid8,
``pg_current_xact_id()``). A reader only hands out rows whose ``txid`` is below the ``xmin`` of
its own snapshot. Every transaction below ``xmin`` has ended (committed rows are visible in the
snapshot, rolled-back ones never will be), and every transaction that can still commit has an
id ``>= xmin``, so no row can ever appear behind a ``(txid, id)`` cursor. The price is latency:
a long transaction anywhere in the cluster holds ``xmin`` back, and changes committed after it
started wait until it ends.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from shops.models import Shop, Tenant
from trades.db import binary_cursor
from trades.feed_models import ChangeEvent
from trades.webhooks.outbox import append_change_events

CURSOR_VERSION = "1"


@dataclass(frozen=True)
class Change:
    entity: str  # "trade" | "refund"
    object_id: int  # Trade.pk / Refund.pk
    key: int  # tid or refund_id
    status: str
    previous_status: str | None  # None when the row was inserted
    modified: datetime


class InvalidCursor(ValueError):
    """The cursor was not made by this feed."""


def record_changes(shop: Shop, changes: list[Change]) -> None:
    """Append to the tenant's change feed; MUST be called inside the writer's transaction.

    One INSERT for the batch. Being in the writer's transaction is what ties each change to
    the commit (or rollback) of the write it describes. This is the one place changes are
    recorded, so whatever else follows a change is appended here too: the webhook outbox
    gets its events in the same transaction.
    """
    if not changes:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_changes must run inside the transaction that wrote the rows")
    columns = [
        [shop.tenant_id] * len(changes),
        [shop.pk] * len(changes),
        [change.entity for change in changes],
        [change.object_id for change in changes],
        [change.key for change in changes],
        [change.status for change in changes],
        [change.previous_status for change in changes],
        [change.modified for change in changes],
    ]
    with binary_cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ChangeEvent._meta.db_table}
                (tenant_id, shop_id, entity, object_id, key, status, previous_status, modified)
            SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::bigint[],
                                 %b::bigint[], %b::text[], %b::text[], %b::timestamptz[])
            RETURNING id
            """.strip(),
            columns,
        )
        change_ids = [row[0] for row in cursor.fetchall()]
    append_change_events(change_ids)


def encode_cursor(txid: int, event_id: int) -> str:
    raw = f"{CURSOR_VERSION}:{txid}:{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    """Return the ``(txid, id)`` a cursor stands for; ``None`` is the start of the feed."""
    if not cursor:
        return (0, 0)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, txid, event_id = raw.split(":")
        position = (int(txid), int(event_id))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("not a cursor of this feed") from None
    if version != CURSOR_VERSION or min(position) < 0:
        raise InvalidCursor("not a cursor of this feed")
    return position


# One statement, so the snapshot whose xmin bounds the page is the one that reads it.
# ``changeevent_tenant_feed_idx`` serves the range.
_PAGE_SQL = f"""
    SELECT * FROM {ChangeEvent._meta.db_table}
    WHERE tenant_id = %s
      AND (txid, id) > (%s::text::xid8, %s)
      AND txid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY txid, id
    LIMIT %s
"""


def read_changes_page(
    tenant: Tenant, after: str | None, limit: int
) -> tuple[list[ChangeEvent], str, bool]:
    """Like :func:`read_changes`, and also whether more changes are ready right now."""
    txid, event_id = decode_cursor(after)
    events = list(ChangeEvent.objects.raw(_PAGE_SQL, [tenant.pk, str(txid), event_id, limit + 1]))
    has_more = len(events) > limit
    events = events[:limit]
    if events:
        last = events[-1]
        return events, encode_cursor(last.txid, last.pk), has_more
    return events, after or encode_cursor(0, 0), False


def read_changes(tenant: Tenant, after: str | None, limit: int) -> tuple[list[ChangeEvent], str]:
    """Return changes in commit order after the opaque cursor, and the next cursor.

    Reading again from the returned cursor never misses or repeats a change. Must not run
    inside a transaction that has written anything: its own id would hold the page back.
    """
    events, cursor, _ = read_changes_page(tenant, after, limit)
    return events, cursor
