"""What each event type means, in the words the schema and the docs show partners.

Every type in :class:`~trades.webhooks.models.EventType` has its entry here; the schema test
fails on a type without one, and on an emitted type the schema does not describe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from trades.webhooks.models import SUBSCRIBABLE, EventType

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class Described(NamedTuple):
    summary: StrOrPromise
    detail: StrOrPromise

    def __str__(self) -> str:
        return str(self.text())

    def text(self) -> StrOrPromise:
        """Summary and detail in one, in the language active when it is read."""
        return format_lazy(_("{summary}. {detail}"), summary=self.summary, detail=self.detail)


EVENTS = {
    EventType.TRADE_CREATED: Described(
        _("A trade was stored for the first time"),
        _("From any channel (polling, TMC, JDP, the reconcile); `data.previous_status` is null."),
    ),
    EventType.TRADE_UPDATED: Described(
        _("A stored trade changed"),
        _(
            "Its status, payment, logistics or sub-orders changed on the platform; sent for "
            "every change, with or without a new status."
        ),
    ),
    EventType.TRADE_STATUS_CHANGED: Described(
        _("A stored trade's status moved"),
        _(
            "From `data.previous_status` to `data.status`; sent beside the `trade.updated` of "
            "the same change."
        ),
    ),
    EventType.TRADE_PRESALE_DEPOSIT_PAID: Described(
        _("A presale trade's deposit was paid"),
        _(
            "Its `step_trade_status` moved to `FRONT_PAID_FINAL_NOPAID`: its units are reserved "
            "(`GET /api/v1/presale-reservations/`) until the final payment or the forfeit; sent "
            "once, beside the `trade.created` or `trade.updated` of the same change."
        ),
    ),
    EventType.TRADE_PRESALE_FINAL_PAID: Described(
        _("A presale trade's final payment was made"),
        _(
            "Its `step_trade_status` moved to `FRONT_PAID_FINAL_PAID`: its units are no longer "
            "reserved, it is an ordinary paid trade now; sent once, after the deposit event."
        ),
    ),
    EventType.TRADE_PRESALE_FORFEITED: Described(
        _("A presale trade's deposit was forfeited"),
        _(
            "The final payment was not made in time (`FRONT_PAID_FRONT_FORFEITED`): the reserved "
            "units are free again; sent once, after the deposit event."
        ),
    ),
    EventType.LOGISTICS_STALLED: Described(
        _("A parcel of a shipped trade stalled"),
        _(
            "Its trace showed no new event for `LOGISTICS_STALL_HOURS` (`data.status` "
            "`no_movement`), or the carrier did not pick it up within `LOGISTICS_PICKUP_HOURS` of "
            "the consignment (`no_pickup`); `data.out_sid` is the waybill, `data.last_event` the "
            "last trace event. Sent once per stall, beside a change of entity `parcel`."
        ),
    ),
    EventType.LOGISTICS_RESUMED: Described(
        _("A stalled parcel moved again, or its trade ended"),
        _(
            "The stall of `logistics.stalled` is over: a new trace event came (`data.status` "
            "`moving`), the parcel was signed (`signed`), or its trade finished or closed "
            "(`trade_ended`). Sent once, after the stall's event."
        ),
    ),
    EventType.REFUND_CREATED: Described(
        _("A refund was stored for the first time"), _("`data.previous_status` is null.")
    ),
    EventType.REFUND_UPDATED: Described(
        _("A stored refund changed"), _("Its status, fee or other fields changed on the platform.")
    ),
    EventType.SHOP_NEEDS_REAUTH: Described(
        _("A shop must be authorized again"),
        _(
            "The seller's authorization stopped working, so the shop's syncing is stopped until "
            "a tenant admin authorizes it again; `data.reason` says what the platform answered."
        ),
    ),
    EventType.RECONCILE_FOUND_MISSING: Described(
        _("The daily reconcile found missing records"),
        _(
            "It found trades or refunds the sync had missed and stored them (their `*.created` "
            "events are sent too); the first 100 ids are listed."
        ),
    ),
    EventType.ENDPOINT_FAILING: Described(
        _("One of the tenant's webhook endpoints keeps failing"),
        _(
            "Every delivery to it failed since `data.failing_since`; unless one succeeds it is "
            "disabled at `data.disable_at` (`WEBHOOKS_DISABLE_AFTER_HOURS` after the first "
            "failure). Sent once per failure run, to the tenant's other endpoints that subscribe "
            "to it, when the run passes `WEBHOOKS_WARN_FRACTION` of that time."
        ),
    ),
    EventType.TEST: Described(
        _("A test event"),
        _(
            "Sent on request (`POST /api/v1/webhook-endpoints/{id}/test/`) to one endpoint, "
            "whatever it subscribes to; it cannot be subscribed to."
        ),
    ),
}

# (value, description) pairs: serializer choices whose labels become the schema's text
EVENT_CHOICES = [(value, EVENTS[value].text()) for value in EventType.values]
SUBSCRIBABLE_CHOICES = [(value, EVENTS[value].text()) for value in SUBSCRIBABLE]
