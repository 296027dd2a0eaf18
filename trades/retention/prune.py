"""Pruning in batches: each batch one short statement in its own transaction, so no lock is
held for long and a stopped run loses nothing but its unfinished batch."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from shops.models import SyncRun, Tenant
from trades.feed.models import ChangeEvent, FeedCommit
from trades.jdp.models import JdpFinding
from trades.models import ReconcileReport
from trades.retention.guard import first_unread_position
from trades.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent

_COMMITS, _CHANGES = FeedCommit._meta.db_table, ChangeEvent._meta.db_table
_EVENTS, _DELIVERIES = WebhookEvent._meta.db_table, WebhookDelivery._meta.db_table
_ATTEMPTS = WebhookAttempt._meta.db_table

# A batch of the tenant's commits after ``after`` and below the guard (the position index);
# of those, the ones whose changes are all older than the cutoff go with their changes.
_FEED_SQL = f"""
    WITH batch AS (
        SELECT c.id, c.txid FROM {_COMMITS} c
        WHERE c.tenant_id = %(tenant)s AND c.id > %(after)s AND c.id < %(guard)s
        ORDER BY c.id LIMIT %(limit)s
    ), old AS (
        SELECT b.id, b.txid FROM batch b WHERE NOT EXISTS (
            SELECT 1 FROM {_CHANGES} e
            WHERE e.tenant_id = %(tenant)s AND e.txid = b.txid AND e.created_at >= %(cutoff)s)
    ), changes AS (
        DELETE FROM {_CHANGES} e USING old
        WHERE e.tenant_id = %(tenant)s AND e.txid = old.txid RETURNING 1
    ), commits AS (
        DELETE FROM {_COMMITS} c USING old WHERE c.id = old.id RETURNING 1
    )
    SELECT (SELECT max(id) FROM batch), (SELECT count(*) FROM changes),
           (SELECT count(*) FROM commits)
"""

# Events older than the cutoff none of whose deliveries is still to be made (pending) or was
# given up (failed: an operator may redeliver it); their deliveries and attempts go too.
_EVENTS_SQL = f"""
    WITH old AS (
        SELECT ev.id FROM {_EVENTS} ev
        WHERE ev.created_at < %(cutoff)s AND NOT EXISTS (
            SELECT 1 FROM {_DELIVERIES} d WHERE d.event_id = ev.id AND d.state <> 'succeeded')
        ORDER BY ev.id LIMIT %(limit)s
    ), attempts AS (
        DELETE FROM {_ATTEMPTS} a USING {_DELIVERIES} d, old
        WHERE a.delivery_id = d.id AND d.event_id = old.id RETURNING 1
    ), deliveries AS (
        DELETE FROM {_DELIVERIES} d USING old WHERE d.event_id = old.id RETURNING 1
    )
    DELETE FROM {_EVENTS} ev USING old WHERE ev.id = old.id
"""

# Attempts (the HTTP log) of deliveries that are no longer pending (webhookattempt_started_idx)
_ATTEMPTS_SQL = f"""
    WITH old AS (
        SELECT a.id FROM {_ATTEMPTS} a JOIN {_DELIVERIES} d ON d.id = a.delivery_id
        WHERE a.started_at < %(cutoff)s AND d.state <> 'pending'
        ORDER BY a.started_at LIMIT %(limit)s
    )
    DELETE FROM {_ATTEMPTS} a USING old WHERE a.id = old.id
"""


def _aged_sql(table: str, column: str, *, order: str = "id", where: str = "") -> str:
    """A batch DELETE of ``table``'s rows whose ``column`` lies before the cutoff (and that
    match ``where``), oldest first by ``order``."""
    return f"""
        WITH old AS (
            SELECT id FROM {table} WHERE {column} < %(cutoff)s {where}
            ORDER BY {order} LIMIT %(limit)s
        )
        DELETE FROM {table} r USING old WHERE r.id = old.id
    """


_RUNS_SQL = _aged_sql(
    SyncRun._meta.db_table, "started_at", order="started_at", where="AND outcome <> 'running'"
)
_REPORTS_SQL = _aged_sql(ReconcileReport._meta.db_table, "created_at")
# found_at is set on insert: the oldest findings come first by id
_FINDINGS_SQL = _aged_sql(JdpFinding._meta.db_table, "found_at")


# Called with each batch's duration in seconds (``manage.py bench retention`` listens).
BATCH_OBSERVERS: list[Callable[[float], object]] = []


def run_batch(sql: str, params: dict[str, Any]) -> tuple[int, tuple | None]:
    """One batch in its own transaction: ``(rowcount, first row or None)``."""
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        result = (cursor.rowcount, cursor.fetchone() if cursor.description else None)
    for observe in BATCH_OBSERVERS:
        observe(time.monotonic() - started)
    return result


def _delete_in_batches(sql: str, cutoff: datetime, limit: int) -> int:
    """Run a batch DELETE until a batch removes fewer than ``limit`` rows; return the count."""
    total = 0
    while True:
        removed, _ = run_batch(sql, {"cutoff": cutoff, "limit": limit})
        total += removed
        if removed < limit:
            return total


def prune_webhook_events(cutoff: datetime, limit: int) -> int:
    return _delete_in_batches(_EVENTS_SQL, cutoff, limit)


def prune_webhook_attempts(cutoff: datetime, limit: int) -> int:
    return _delete_in_batches(_ATTEMPTS_SQL, cutoff, limit)


def prune_sync_runs(cutoff: datetime, limit: int) -> int:
    return _delete_in_batches(_RUNS_SQL, cutoff, limit)


def prune_reconcile_reports(cutoff: datetime, limit: int) -> int:
    return _delete_in_batches(_REPORTS_SQL, cutoff, limit)


def prune_jdp_findings(cutoff: datetime, limit: int) -> int:
    """JDP findings found before ``cutoff``, whatever their outcome: the counts shown are
    those of the age kept."""
    return _delete_in_batches(_FINDINGS_SQL, cutoff, limit)


# A feed position is one writer's transaction: a page of a sync holds up to 100 changes.
CHANGES_PER_COMMIT = 100


def feed_commits(limit: int) -> int:
    """Positions per feed batch, so that a batch removes about ``limit`` changes."""
    return max(1, limit // CHANGES_PER_COMMIT)


def prune_feed(cutoff: datetime, limit: int) -> int:
    """Every tenant's changes older than ``cutoff`` that every active consumer has read."""
    tenants = Tenant.objects.filter(pk__in=FeedCommit.objects.values("tenant_id"))
    return sum(prune_tenant_feed(tenant, cutoff, feed_commits(limit)) for tenant in tenants)


def prune_tenant_feed(tenant: Tenant, cutoff: datetime, limit: int) -> int:
    """Remove the tenant's old commits below its slowest active consumer, ``limit`` positions
    a batch; stop at the first batch that removes nothing (later commits are newer). Returns
    the changes removed."""
    guard = first_unread_position(tenant)
    total, after = 0, 0
    while True:
        params = {"tenant": tenant.pk, "after": after, "guard": guard, "cutoff": cutoff}
        _, row = run_batch(_FEED_SQL, {**params, "limit": limit})
        last, changes, commits = row or (None, 0, 0)
        total += changes
        if last is None or not commits:
            return total
        after = last
