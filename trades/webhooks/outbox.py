"""The outbox: events written in the transaction of what they report, fanned out to endpoints.

An event row and one delivery row per subscribed, active endpoint are inserted by one
statement in the caller's transaction, so a committed change always has its deliveries and a
rolled-back one never has any. Delivery starts after the commit (``on_commit``); should that
task be lost, the sweep finds the due deliveries anyway.

Events are written only for tenants with an endpoint that wants them: a tenant without
webhooks pays one indexed lookup per write, and the table does not fill with events nobody
receives. An endpoint added (or enabled) later does not receive older events; the change feed
is there for catching up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial

from django.conf import settings
from django.db import connection, transaction

# looked up at each call (tasks.async_task): tests replace django_q's one in one place
from django_q import tasks

from trades.feed.models import ChangeEvent
from trades.logistics.models import Parcel
from trades.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent

DELIVER_TASK = "trades.webhooks.tasks.deliver_webhooks_task"

# ``fresh`` yields (tenant_id, shop_id, type, data) rows: the events that happened.
_FAN_OUT = f"""
    WITH fresh (tenant_id, shop_id, type, data) AS ({{fresh}}),
    events AS (
        INSERT INTO {WebhookEvent._meta.db_table} (tenant_id, shop_id, type, data)
        SELECT f.tenant_id, f.shop_id, f.type, f.data FROM fresh f
        WHERE EXISTS (
            SELECT 1 FROM {WebhookEndpoint._meta.db_table} e
            WHERE e.tenant_id = f.tenant_id AND e.is_active AND f.type = ANY(e.event_types)
        )
        RETURNING id, tenant_id, type
    )
    INSERT INTO {WebhookDelivery._meta.db_table}
        (tenant_id, endpoint_id, event_id, state, attempts, next_attempt_at, last_error)
    SELECT ev.tenant_id, e.id, ev.id, 'pending', 0, now(), ''
    FROM events ev JOIN {WebhookEndpoint._meta.db_table} e
      ON e.tenant_id = ev.tenant_id AND e.is_active AND ev.type = ANY(e.event_types)
    RETURNING id
"""

# A trade or refund change is ``<entity>.created`` or ``<entity>.updated``; a trade whose
# status moved is also ``trade.status_changed``; each of the change's signals (a presale stage
# it passed, a parcel's stall beginning or ending) is an event of its own. A parcel's change
# is its signal only, and its data names the waybill.
_CHANGES = f"""
    SELECT c.tenant_id, c.shop_id, t.type,
           jsonb_build_object(
               CASE c.entity WHEN 'refund' THEN 'refund_id' ELSE 'tid' END, c.key,
               'shop', c.shop_id,
               'status', c.status,
               'previous_status', c.previous_status,
               'modified', c.modified,
               'change_id', c.id
           ) || coalesce(p.data, '{{}}'::jsonb) AS data
    FROM {ChangeEvent._meta.db_table} c
    LEFT JOIN LATERAL (
        SELECT jsonb_build_object(
                   'out_sid', p.out_sid, 'company_name', p.company_name,
                   'consigned_at', p.consigned_at, 'last_event', p.events -> -1
               ) AS data
        FROM {Parcel._meta.db_table} p WHERE c.entity = 'parcel' AND p.id = c.object_id
    ) p ON true
    CROSS JOIN LATERAL (VALUES
        (CASE WHEN c.entity <> 'parcel' THEN
             c.entity || CASE WHEN c.previous_status IS NULL THEN '.created' ELSE '.updated' END
         END),
        (CASE WHEN c.entity = 'trade' AND c.previous_status IS NOT NULL
                   AND c.status <> c.previous_status
              THEN '{EventType.TRADE_STATUS_CHANGED}' END)
        UNION ALL SELECT unnest(c.signals)::text
    ) AS t(type)
    WHERE c.id = ANY(%s::bigint[]) AND t.type IS NOT NULL
"""

_ONE = "SELECT %s::bigint, %s::bigint, %s::text, %s::jsonb"


def _fan_out(fresh: str, params: list) -> list[int]:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("the outbox must be written inside the transaction it reports on")
    with connection.cursor() as cursor:
        cursor.execute(_FAN_OUT.format(fresh=fresh), params)
        delivery_ids = [row[0] for row in cursor.fetchall()]
    if delivery_ids:
        transaction.on_commit(partial(queue_deliveries, delivery_ids))
    return delivery_ids


def append_change_events(change_ids: list[int]) -> list[int]:
    """Events for the given change-feed rows; return the ids of the deliveries created."""
    return _fan_out(_CHANGES, [change_ids]) if change_ids else []


def emit(tenant_id: int, type: str, data: dict, shop_id: int | None = None) -> list[int]:
    """One event of ``type`` for the tenant's subscribed endpoints; return the delivery ids."""
    return _fan_out(_ONE, [tenant_id, shop_id, type, json.dumps(data, default=str)])


def queue_deliveries(delivery_ids: Iterable[int], not_before: float | None = None) -> None:
    """Hand deliveries to the workers in batches of ``WEBHOOKS_BATCH_SIZE``; a task with
    ``not_before`` (epoch seconds) waits for it before it claims them."""
    ids = list(delivery_ids)
    size = settings.WEBHOOKS_BATCH_SIZE
    for start in range(0, len(ids), size):
        batch = ids[start : start + size]
        tasks.async_task(DELIVER_TASK, batch, not_before, task_name="deliver-webhooks")
