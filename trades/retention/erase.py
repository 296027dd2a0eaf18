"""Erasing the buyer data of a shop whose seller no longer authorizes the app.

A shop that lost its authorization (``needs_reauth``: the seller revoked the app, or the
session expired without a refresh) and was not authorized again within
``BUYER_DATA_GRACE_DAYS`` has its buyers' personal data removed from its trades and refunds:
the buyer and receiver columns emptied, and every ``buyer_*`` and ``receiver_*`` key (and
``oaid``, ``desc``) dropped from the stored payloads. Amounts, statuses, items and times stay
(the seller's own bookkeeping); the rows keep their ids, so nothing that points at them breaks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from shops import audit
from shops.models import Shop
from trades.models import Refund, Trade

_PERSONAL = "k LIKE 'buyer\\_%%' OR k LIKE 'receiver\\_%%' OR k IN ('oaid', 'desc')"
_STRIP = f"payload - ARRAY(SELECT k FROM jsonb_object_keys(payload) k WHERE {_PERSONAL})"
# Batches walk the shop's rows by (time, id) on the shop's own index (trade_shop_created_idx,
# refund_shop_modified_idx), so each batch starts where the last ended instead of re-reading
# the shop's rows from the first.
_TRADES_SQL = f"""
    WITH batch AS (
        SELECT id, created AS at FROM {Trade._meta.db_table}
        WHERE shop_id = %(shop)s AND (created, id) > (%(at)s, %(after)s)
        ORDER BY created, id LIMIT %(limit)s
    )
    UPDATE {Trade._meta.db_table} t SET buyer_open_uid = '', buyer_nick = '',
        receiver_state = '', receiver_city = '', receiver_district = '', payload = {_STRIP}
    FROM batch WHERE t.id = batch.id RETURNING batch.at, t.id
"""
_REFUNDS_SQL = f"""
    WITH batch AS (
        SELECT id, modified AS at FROM {Refund._meta.db_table}
        WHERE shop_id = %(shop)s AND (modified, id) > (%(at)s, %(after)s)
        ORDER BY modified, id LIMIT %(limit)s
    )
    UPDATE {Refund._meta.db_table} r SET payload = {_STRIP}
    FROM batch WHERE r.id = batch.id RETURNING batch.at, r.id
"""
_START = datetime(1970, 1, 1, tzinfo=UTC)


def due_for_erasure(grace: timedelta, now: datetime | None = None) -> QuerySet[Shop]:
    """Shops whose authorization was lost more than ``grace`` ago and not erased since."""
    lost_before = (now or timezone.now()) - grace
    return Shop.objects.filter(authorization_lost_at__lt=lost_before).filter(
        Q(buyer_data_erased_at__isnull=True)
        | Q(buyer_data_erased_at__lt=F("authorization_lost_at"))
    )


def erase_buyer_data(shop: Shop, limit: int) -> dict[str, int]:
    """Erase one shop's buyer data in batches; record it in the audit log. Returns counts."""
    counts = {
        "trades": _update_in_batches(_TRADES_SQL, shop.pk, limit),
        "refunds": _update_in_batches(_REFUNDS_SQL, shop.pk, limit),
    }
    with transaction.atomic():
        Shop.objects.filter(pk=shop.pk).update(buyer_data_erased_at=timezone.now())
        details = {**counts, "authorization_lost_at": shop.authorization_lost_at}
        audit.record(audit.Action.BUYER_DATA_ERASED, target=shop, details=details)
    return counts


def _update_in_batches(sql: str, shop_id: int, limit: int) -> int:
    total, last = 0, (_START, 0)
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, {"shop": shop_id, "at": last[0], "after": last[1], "limit": limit})
            rows = cursor.fetchall()
        total += len(rows)
        if len(rows) < limit:
            return total
        last = max(rows)


def erase_due(grace: timedelta, limit: int) -> int:
    """Erase every due shop (``due_for_erasure``); return how many."""
    shops = list(due_for_erasure(grace))
    for shop in shops:
        erase_buyer_data(shop, limit)
    return len(shops)
