"""The change feed: writers append inside their transaction, partners read it in commit order.

Why not ``id > last_id``: a sequence value is taken at INSERT but becomes visible at COMMIT, so
a transaction that inserted id 10 and commits after the one that inserted id 11 would be
skipped by a reader that already moved past 11. Transaction ids have the same flaw for order:
a transaction takes its id at its first write, so two writers of one trade can commit in the
opposite order of their ids.

The scheme: every row stores the id of the transaction that wrote it (``txid``). As that
transaction commits, a deferred trigger gives it a position (a :class:`FeedCommit`) while
holding the tenant's feed lock until the commit is visible (migration 0007). Positions of a
tenant are therefore in commit order, and none becomes visible before every smaller one has
committed or rolled back: a reader that pages by ``(position, id)`` never skips a change, never
gets one twice, and sees the changes of one trade in the order they were committed. A change
is readable as soon as its transaction has committed; nothing elsewhere holds it back.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, Tenant
from trades.db import binary_cursor
from trades.feed.models import ChangeEvent, FeedCommit

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

BIGINT_MAX = 2**63 - 1
CURSOR_VERSION = "2"
# Cursors of the first feed named a transaction id instead of a position.
TXID_CURSOR_VERSION = "1"

# What follows every change, appended in the writer's transaction with the new rows' ids. The
# webhook outbox joins when the app is ready (trades/apps.py): it builds on the feed, the feed
# does not import it.
FOLLOWERS: list[Callable[[list[int]], object]] = []


def follow_changes(follower: Callable[[list[int]], object]) -> None:
    """Have ``follower(change_ids)`` run with every batch the feed records, once."""
    if follower not in FOLLOWERS:
        FOLLOWERS.append(follower)


# what each entity of the feed is, in the words of the schema
ENTITIES: dict[str, StrOrPromise] = {
    ChangeEvent.Entity.TRADE: _(
        "A trade was inserted (`previous_status` null) or updated; `key` is its `tid`."
    ),
    ChangeEvent.Entity.REFUND: _(
        "A refund was inserted (`previous_status` null) or updated; `key` is its `refund_id`."
    ),
    ChangeEvent.Entity.PARCEL: _(
        "A parcel of a shipped trade stalled (`logistics.stalled` in `signals`) or its stall "
        "ended (`logistics.resumed`); `key` is the trade's `tid`, `status` the parcel's state."
    ),
}
ENTITY_CHOICES = [(value, ENTITIES[value]) for value in ChangeEvent.Entity.values]


@dataclass(frozen=True)
class Change:
    entity: str  # "trade" | "refund" | "parcel"
    object_id: int  # Trade.pk / Refund.pk / Parcel.pk
    key: int  # tid or refund_id
    status: str
    previous_status: str | None  # None when the row was inserted
    modified: datetime
    # events this change is beside its own, e.g. ``trade.presale_deposit_paid``
    signals: tuple[str, ...] = ()


class InvalidCursor(ValueError):
    """The cursor was not made by this feed."""


def record_changes(shop: Shop, changes: list[Change]) -> None:
    """Append to the tenant's change feed; MUST be called inside the writer's transaction.

    One INSERT for the batch. Being in the writer's transaction is what ties each change to
    the commit (or rollback) of the write it describes. This is the one place changes are
    recorded, so whatever else follows a change is appended here too: the webhook outbox
    (a follower, see :func:`follow_changes`) gets its events in the same transaction.
    """
    if not changes:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_changes must run inside the transaction that wrote the rows")
    columns: list[list[Any]] = [
        [shop.tenant_id] * len(changes),
        [shop.pk] * len(changes),
        [change.entity for change in changes],
        [change.object_id for change in changes],
        [change.key for change in changes],
        [change.status for change in changes],
        [change.previous_status for change in changes],
        [change.modified for change in changes],
        # text, not text[]: unnest would flatten a 2-D array; split again in SQL
        [",".join(change.signals) for change in changes],
    ]
    with binary_cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {ChangeEvent._meta.db_table}
                (tenant_id, shop_id, entity, object_id, key, status, previous_status, modified,
                 signals)
            SELECT u.t, u.s, u.e, u.o, u.k, u.st, u.p, u.m,
                   coalesce(string_to_array(nullif(u.sig, ''), ','), '{{}}')::varchar[]
            FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::bigint[], %b::bigint[],
                        %b::text[], %b::text[], %b::timestamptz[], %b::text[])
                 AS u(t, s, e, o, k, st, p, m, sig)
            RETURNING id
            """.strip(),
            columns,
        )
        change_ids = [row[0] for row in cursor.fetchall()]
    for follow in FOLLOWERS:
        follow(change_ids)


def encode_cursor(position: int, event_id: int) -> str:
    raw = f"{CURSOR_VERSION}:{position}:{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str, int, int]:
    """Return the cursor's version and the two numbers it holds; ``None`` is the start."""
    if not cursor:
        return (CURSOR_VERSION, 0, 0)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, first, event_id = raw.split(":")
        numbers = (int(first), int(event_id))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("not a cursor of this feed") from None
    # positions, ids and (in practice) transaction ids are bigints; past that range a number
    # was not made by this feed, and PostgreSQL would refuse to compare it
    if version not in (CURSOR_VERSION, TXID_CURSOR_VERSION) or not all(
        0 <= number <= BIGINT_MAX for number in numbers
    ):
        raise InvalidCursor("not a cursor of this feed")
    return (version, *numbers)


def _position(tenant: Tenant, cursor: str | None) -> tuple[int, int]:
    """The ``(position, id)`` after which a cursor's reader goes on."""
    version, first, event_id = decode_cursor(cursor)
    if version == CURSOR_VERSION or first == 0:
        return (first, event_id)
    # A transaction-id cursor: its transaction got a position when the feed moved to them.
    commit = FeedCommit.objects.filter(tenant=tenant, txid=first).first()
    if commit is None:
        raise InvalidCursor("not a cursor of this feed")
    # Its reader has not seen transactions with a larger id; one of them that committed first
    # (a process still on the old feed during an upgrade) sits before it: start there, and
    # hand out again what lies between rather than skip it.
    unseen = FeedCommit.objects.filter(tenant=tenant, txid__gt=first, pk__lt=commit.pk)
    first_unseen = unseen.order_by("pk").values_list("pk", flat=True).first()
    return (first_unseen, 0) if first_unseen else (commit.pk, event_id)


# ``feedcommit_tenant_position_idx`` walks the tenant's positions; ``changeevent_tenant_feed_idx``
# finds each transaction's rows. ``c.id >= %s`` lets the first index start at the cursor.
_PAGE_SQL = f"""
    SELECT {{select}}, c.id AS position
    FROM {FeedCommit._meta.db_table} c
    JOIN {ChangeEvent._meta.db_table} e ON e.tenant_id = c.tenant_id AND e.txid = c.txid
    WHERE c.tenant_id = %s AND c.id >= %s AND (c.id, e.id) > (%s, %s) {{shop}}
    ORDER BY c.id, e.id
    LIMIT %s
"""


# The tenant's newest visible change from a position on: the same indexes, walked backwards.
_TOP_SQL = f"""
    SELECT c.id, e.id
    FROM {FeedCommit._meta.db_table} c
    JOIN {ChangeEvent._meta.db_table} e ON e.tenant_id = c.tenant_id AND e.txid = c.txid
    WHERE c.tenant_id = %s AND c.id >= %s
    ORDER BY c.id DESC, e.id DESC
    LIMIT 1
"""


@dataclass(frozen=True)
class _Page:
    """The query of one page: its SQL (``select`` filled in) and parameters, and where the
    reader stands before it."""

    tenant: Tenant
    start: tuple[int, int]
    limit: int
    shop_id: int | None
    # with ``shop_id``: the tenant's newest change visible before the page is read
    top: tuple[int, int] | None

    def query(self, select: str) -> tuple[str, list[int]]:
        params = [self.tenant.pk, self.start[0], *self.start]
        shop = ""
        if self.shop_id is not None:
            shop = "AND e.shop_id = %s"
            params.append(self.shop_id)
        return _PAGE_SQL.format(select=select, shop=shop), [*params, self.limit + 1]

    def end(self, last: tuple[int, int] | None, has_more: bool) -> str:
        """The cursor after a page whose last change is ``last`` (``None``: no change)."""
        end = last or self.start
        if self.top is not None and not has_more and self.top > end:
            # The changes up to ``top`` were all visible before the page was read (positions
            # become visible in order), so the page read every one of this shop's among them:
            # skip past the other shops', or a quiet shop's reader would scan them again on
            # every read. Read after the page, ``top`` could name a change of this shop
            # committed in between, which the page never saw.
            end = self.top
        return encode_cursor(*end)


def _page(tenant: Tenant, after: str | None, limit: int, shop_id: int | None) -> _Page:
    start = _position(tenant, after)
    top = _newest(tenant, start[0]) if shop_id is not None else None
    return _Page(tenant, start, limit, shop_id, top)


def read_changes_page(
    tenant: Tenant, after: str | None, limit: int, shop_id: int | None = None
) -> tuple[list[ChangeEvent], str, bool]:
    """Like :func:`read_changes`, and also whether more changes are ready right now.

    With ``shop_id``, only that shop's changes; the cursor is the same kind, so a reader may
    start or stop filtering at any point without a gap.
    """
    page = _page(tenant, after, limit, shop_id)
    events = list(ChangeEvent.objects.raw(*page.query("e.*")))
    has_more = len(events) > limit
    events = events[:limit]
    # ``position`` is a column of the raw query, not a field of the model
    last = (events[-1].position, events[-1].pk) if events else None  # type: ignore[attr-defined]
    return events, page.end(last, has_more), has_more


def read_changes_json(
    tenant: Tenant, after: str | None, limit: int, shop_id: int | None, select: str
) -> tuple[list[str], str, bool]:
    """:func:`read_changes_page` with each change as the text ``select`` makes of it in SQL
    (the change table is ``e``): no model instances, for readers that pass the text on."""
    page = _page(tenant, after, limit, shop_id)
    sql, params = page.query(f"{select}, e.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = (rows[-1][2], rows[-1][1]) if rows else None
    return [row[0] for row in rows], page.end(last, has_more), has_more


def cursor_as_of(tenant: Tenant, moment: datetime) -> str:
    """A cursor from which a reader gets every change committed at or after ``moment``.

    It points before the first commit stamped at or after ``moment``: a transaction that began
    before ``moment`` and committed after it comes too (a change at most once more than
    needed, never one missed). With no commit since ``moment`` the cursor is the head, so the
    reader gets what comes next; with no commit at all, it is the start.
    """
    # feedcommit_tenant_time_idx
    commits = FeedCommit.objects.filter(tenant=tenant)
    first = commits.filter(committed_at__gte=moment).aggregate(first=Min("id"))["first"]
    if first is not None:
        return encode_cursor(first, 0)
    head = commits.aggregate(head=Max("id"))["head"]
    return encode_cursor(head, BIGINT_MAX) if head is not None else encode_cursor(0, 0)


def _newest(tenant: Tenant, position: int) -> tuple[int, int] | None:
    with connection.cursor() as cursor:
        cursor.execute(_TOP_SQL, [tenant.pk, position])
        row = cursor.fetchone()
    return tuple(row) if row else None


def read_changes(tenant: Tenant, after: str | None, limit: int) -> tuple[list[ChangeEvent], str]:
    """Return changes in commit order after the opaque cursor, and the next cursor.

    Reading again from the returned cursor never misses or repeats a change.
    """
    events, cursor, _more = read_changes_page(tenant, after, limit)
    return events, cursor
