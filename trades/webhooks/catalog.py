"""What each event type means, in the words the schema and the docs show partners.

Every type in :class:`~trades.webhooks.models.EventType` has its entry here; the schema test
fails on a type without one, and on an emitted type the schema does not describe.
"""

from __future__ import annotations

from typing import NamedTuple

from trades.webhooks.models import SUBSCRIBABLE, EventType


class Described(NamedTuple):
    summary: str
    detail: str

    def __str__(self) -> str:
        return f"{self.summary}. {self.detail}"


EVENTS = {
    EventType.TRADE_CREATED: Described(
        "A trade was stored for the first time",
        "From any channel (polling, TMC, JDP, the reconcile); `data.previous_status` is null.",
    ),
    EventType.TRADE_UPDATED: Described(
        "A stored trade changed",
        "Its status, payment, logistics or sub-orders changed on the platform; sent for "
        "every change, with or without a new status.",
    ),
    EventType.TRADE_STATUS_CHANGED: Described(
        "A stored trade's status moved",
        "From `data.previous_status` to `data.status`; sent beside the `trade.updated` of "
        "the same change.",
    ),
    EventType.TRADE_PRESALE_DEPOSIT_PAID: Described(
        "A presale trade's deposit was paid",
        "Its `step_trade_status` moved to `FRONT_PAID_FINAL_NOPAID`: its units are reserved "
        "(`GET /api/v1/presale-reservations/`) until the final payment or the forfeit; sent "
        "once, beside the `trade.created` or `trade.updated` of the same change.",
    ),
    EventType.TRADE_PRESALE_FINAL_PAID: Described(
        "A presale trade's final payment was made",
        "Its `step_trade_status` moved to `FRONT_PAID_FINAL_PAID`: its units are no longer "
        "reserved, it is an ordinary paid trade now; sent once, after the deposit event.",
    ),
    EventType.TRADE_PRESALE_FORFEITED: Described(
        "A presale trade's deposit was forfeited",
        "The final payment was not made in time (`FRONT_PAID_FRONT_FORFEITED`): the reserved "
        "units are free again; sent once, after the deposit event.",
    ),
    EventType.LOGISTICS_STALLED: Described(
        "A parcel of a shipped trade stalled",
        "Its trace showed no new event for `LOGISTICS_STALL_HOURS` (`data.status` "
        "`no_movement`), or the carrier did not pick it up within `LOGISTICS_PICKUP_HOURS` of "
        "the consignment (`no_pickup`); `data.out_sid` is the waybill, `data.last_event` the "
        "last trace event. Sent once per stall, beside a change of entity `parcel`.",
    ),
    EventType.LOGISTICS_RESUMED: Described(
        "A stalled parcel moved again, or its trade ended",
        "The stall of `logistics.stalled` is over: a new trace event came (`data.status` "
        "`moving`), the parcel was signed (`signed`), or its trade finished or closed "
        "(`trade_ended`). Sent once, after the stall's event.",
    ),
    EventType.REFUND_CREATED: Described(
        "A refund was stored for the first time", "`data.previous_status` is null."
    ),
    EventType.REFUND_UPDATED: Described(
        "A stored refund changed", "Its status, fee or other fields changed on the platform."
    ),
    EventType.SHOP_NEEDS_REAUTH: Described(
        "A shop must be authorized again",
        "The seller's authorization stopped working, so the shop's syncing is stopped until "
        "a tenant admin authorizes it again; `data.reason` says what the platform answered.",
    ),
    EventType.RECONCILE_FOUND_MISSING: Described(
        "The daily reconcile found missing records",
        "It found trades or refunds the sync had missed and stored them (their `*.created` "
        "events are sent too); the first 100 ids are listed.",
    ),
    EventType.TEST: Described(
        "A test event",
        "Sent on request (`POST /api/v1/webhook-endpoints/{id}/test/`) to one endpoint, "
        "whatever it subscribes to; it cannot be subscribed to.",
    ),
}

# (value, description) pairs: serializer choices whose labels become the schema's text
EVENT_CHOICES = [(value, str(EVENTS[value])) for value in EventType.values]
SUBSCRIBABLE_CHOICES = [(value, str(EVENTS[value])) for value in SUBSCRIBABLE]
