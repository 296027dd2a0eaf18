"""The webhooks in the OpenAPI document: one entry per event type, with its body and example.

The request bodies are what ``trades.webhooks.payload.render`` sends; the schema test renders
a real event of every type and validates it against its entry here.
"""

from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from trades.api import examples as ex
from trades.api.openapi import Operation, Resource, list_operation, retrieve_operation
from trades.webhooks.catalog import EVENT_CHOICES, EVENTS
from trades.webhooks.models import EventType

TAG = "Webhook events"
INT64 = {"min_value": 1, "max_value": 2**63 - 1}


def _string_id(name: str) -> serializers.CharField:
    text = _("`{name}` as a decimal string, exact in JavaScript.")
    return serializers.CharField(help_text=format_lazy(text, name=name))


class ChangeData(serializers.Serializer):
    """What a trade or refund event says of the change (a row of the change feed)."""

    shop = serializers.IntegerField(help_text=_("The shop's id in this API."))
    status = serializers.CharField(help_text=_("The status in this version."))
    previous_status = serializers.CharField(
        allow_null=True, help_text=_("The status before this change; null when it is new.")
    )
    modified = serializers.DateTimeField(
        help_text=_(
            "The platform's modified time of this version: deliveries are not ordered, "
            "keep the newest you have seen."
        )
    )
    change_id = serializers.IntegerField(help_text=_("The change's `id` in the change feed."))


class TradeChangeData(ChangeData):
    tid = serializers.IntegerField(**INT64, help_text=_("The platform's trade id."))
    tid_str = _string_id("tid")


class ParcelChangeData(TradeChangeData):
    """A parcel's stall began or ended; ``status`` is the parcel's state, ``modified`` its last
    movement."""

    out_sid = serializers.CharField(help_text=_("The waybill."))
    company_name = serializers.CharField(help_text=_("The carrier."))
    consigned_at = serializers.DateTimeField(help_text=_("When the seller consigned it."))
    last_event = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text=_("The last trace event: [time (platform time), description, action]."),
    )


class RefundChangeData(ChangeData):
    refund_id = serializers.IntegerField(**INT64, help_text=_("The platform's refund id."))
    refund_id_str = _string_id("refund_id")


class ShopNeedsReauthData(serializers.Serializer):
    shop = serializers.IntegerField(help_text=_("The shop's id in this API."))
    seller_nick = serializers.CharField(help_text=_("The seller's nick on the platform."))
    reason = serializers.CharField(help_text=_("What the platform answered."))


class ReconcileFoundMissingData(serializers.Serializer):
    shop = serializers.IntegerField(help_text=_("The shop's id in this API."))
    report = serializers.IntegerField(help_text=_("The reconcile report's id."))
    day = serializers.DateField(help_text=_("The platform day (Asia/Shanghai) reconciled."))
    missing_found = serializers.IntegerField(help_text=_("Trades found missing and stored."))
    tids = serializers.ListField(
        child=serializers.IntegerField(**INT64), help_text=_("The first 100 of those trades.")
    )
    tids_str = serializers.ListField(
        child=serializers.CharField(), help_text=_("`tids` as decimal strings.")
    )
    refunds_missing_found = serializers.IntegerField(help_text=_("Refunds found missing."))
    refund_ids = serializers.ListField(
        child=serializers.IntegerField(**INT64), help_text=_("The first 100 of those refunds.")
    )
    refund_ids_str = serializers.ListField(
        child=serializers.CharField(), help_text=_("`refund_ids` as decimal strings.")
    )


class EndpointFailingData(serializers.Serializer):
    endpoint = serializers.IntegerField(help_text=_("The failing endpoint's id."))
    url = serializers.CharField(help_text=_("Its URL."))
    failing_since = serializers.DateTimeField(help_text=_("Its first failure since a success."))
    disable_at = serializers.DateTimeField(help_text=_("When it is disabled unless one succeeds."))
    last_error = serializers.CharField(help_text=_("What its last attempt got."))
    backlog = serializers.IntegerField(help_text=_("Its deliveries pending."))


class TestEventData(serializers.Serializer):
    endpoint = serializers.IntegerField(help_text=_("The endpoint the test was sent to."))
    message = serializers.CharField()


class EventLinks(serializers.Serializer):
    changes = serializers.CharField(help_text=_("The change feed."))
    trade = serializers.CharField(
        required=False, help_text=_("The trade (trade events, and a parcel's).")
    )
    refund = serializers.CharField(required=False, help_text=_("The refund (refund events)."))
    shop = serializers.CharField(required=False, help_text=_("The shop."))
    reconcile = serializers.CharField(required=False, help_text=_("The reconcile report."))


class ReplayMark(serializers.Serializer):
    id = serializers.CharField(help_text=_("The replay's id (`rpl_…`)."))


class WebhookEvent(serializers.Serializer):
    """The body of every webhook request; ``data`` depends on ``type``."""

    id = serializers.CharField(
        help_text=_(
            "The event's id, also sent as `webhook-id`; the same on every retry and "
            "redelivery: deduplicate on it."
        )
    )
    type = serializers.ChoiceField(choices=EVENT_CHOICES)
    created = serializers.DateTimeField(help_text=_("When the event was written."))
    tenant = serializers.CharField(help_text=_("The tenant's slug."))
    links = EventLinks(help_text=_("API paths of what the event is about."))
    replay = ReplayMark(
        required=False,
        help_text=_(
            "Only in an event re-emitted by a replay: which replay. Absent from events "
            "as they happen. A replayed event has an `id` of its own; `data.change_id` names the "
            "change it reports again."
        ),
    )


def _event(name: str, data: type[serializers.Serializer]) -> type[WebhookEvent]:
    """A :class:`WebhookEvent` whose ``data`` has the shape of ``data``."""
    doc = f"A webhook body whose `data` is a {data.__name__}."
    return type(name, (WebhookEvent,), {"__doc__": doc, "data": data()})


TradeEvent = _event("TradeEvent", TradeChangeData)
RefundEvent = _event("RefundEvent", RefundChangeData)
ParcelEvent = _event("ParcelEvent", ParcelChangeData)
ShopEvent = _event("ShopEvent", ShopNeedsReauthData)
ReconcileEvent = _event("ReconcileEvent", ReconcileFoundMissingData)
TestEvent = _event("TestEvent", TestEventData)
EndpointFailingEvent = _event("EndpointFailingEvent", EndpointFailingData)

BODIES = {
    EventType.TRADE_CREATED: TradeEvent,
    EventType.TRADE_UPDATED: TradeEvent,
    EventType.TRADE_STATUS_CHANGED: TradeEvent,
    EventType.TRADE_PRESALE_DEPOSIT_PAID: TradeEvent,
    EventType.TRADE_PRESALE_FINAL_PAID: TradeEvent,
    EventType.TRADE_PRESALE_FORFEITED: TradeEvent,
    EventType.LOGISTICS_STALLED: ParcelEvent,
    EventType.LOGISTICS_RESUMED: ParcelEvent,
    EventType.REFUND_CREATED: RefundEvent,
    EventType.REFUND_UPDATED: RefundEvent,
    EventType.SHOP_NEEDS_REAUTH: ShopEvent,
    EventType.RECONCILE_FOUND_MISSING: ReconcileEvent,
    EventType.ENDPOINT_FAILING: EndpointFailingEvent,
    EventType.TEST: TestEvent,
}

_TRADE = {
    "tid": 3900000000000016884,
    "tid_str": "3900000000000016884",
    "shop": 7,
    "status": "WAIT_SELLER_SEND_GOODS",
    "previous_status": "WAIT_BUYER_PAY",
    "modified": "2026-11-11T00:00:01+08:00",
    "change_id": 991,
}
_REFUND = {
    "refund_id": 2900000000000016885,
    "refund_id_str": "2900000000000016885",
    "shop": 7,
    "status": "SUCCESS",
    "previous_status": "WAIT_SELLER_AGREE",
    "modified": "2026-11-12T10:20:00+08:00",
    "change_id": 1207,
}
_PARCEL = {
    **_TRADE,
    "status": "no_movement",
    "previous_status": "moving",
    "modified": "2026-11-12T09:30:00+08:00",
    "out_sid": "YTO880012345678",
    "company_name": "圆通速递",
    "consigned_at": "2026-11-11T20:05:00+08:00",
    "last_event": ["2026-11-12 09:30:00", "快件已到达【杭州转运中心】", "TRANSPORT"],
}
_CHANGES = "/api/v1/changes/"
EXAMPLE_DATA = {
    EventType.TRADE_CREATED: {**_TRADE, "status": "WAIT_BUYER_PAY", "previous_status": None},
    EventType.TRADE_UPDATED: _TRADE,
    EventType.TRADE_STATUS_CHANGED: _TRADE,
    EventType.TRADE_PRESALE_DEPOSIT_PAID: {**_TRADE, "status": "WAIT_BUYER_PAY"},
    EventType.TRADE_PRESALE_FINAL_PAID: _TRADE,
    EventType.TRADE_PRESALE_FORFEITED: {**_TRADE, "status": "TRADE_CLOSED_BY_TAOBAO"},
    EventType.LOGISTICS_STALLED: _PARCEL,
    EventType.LOGISTICS_RESUMED: {**_PARCEL, "status": "moving", "previous_status": "no_movement"},
    EventType.REFUND_CREATED: {
        **_REFUND,
        "status": "WAIT_SELLER_AGREE",
        "previous_status": None,
    },
    EventType.REFUND_UPDATED: _REFUND,
    EventType.SHOP_NEEDS_REAUTH: {
        "shop": 7,
        "seller_nick": "acme-flagship",
        "reason": "SessionInvalid: invalid-sessionkey",
    },
    EventType.RECONCILE_FOUND_MISSING: {
        "shop": 7,
        "report": 31,
        "day": "2026-11-11",
        "missing_found": 1,
        "tids": [3900000000000016884],
        "tids_str": ["3900000000000016884"],
        "refunds_missing_found": 0,
        "refund_ids": [],
        "refund_ids_str": [],
    },
    EventType.ENDPOINT_FAILING: {
        "endpoint": 4,
        "url": "https://wms.example.com/hooks/ordersync",
        "failing_since": "2026-11-11T08:00:00+08:00",
        "disable_at": "2026-11-12T08:00:00+08:00",
        "last_error": "HTTP 503",
        "backlog": 1840,
    },
    EventType.TEST: {"endpoint": 3, "message": "a test event"},
}
EXAMPLE_LINKS = {
    "trade": {"changes": _CHANGES, "trade": "/api/v1/trades/3900000000000016884/"},
    "refund": {"changes": _CHANGES, "refund": "/api/v1/refunds/2900000000000016885/"},
    "logistics": {"changes": _CHANGES, "trade": "/api/v1/trades/3900000000000016884/"},
    "shop": {"changes": _CHANGES, "shop": "/api/v1/shops/7/"},
    "reconcile": {"changes": _CHANGES, "reconcile": "/api/v1/reconcile-reports/31/"},
    "webhook": {"changes": _CHANGES},
    "webhook_endpoint": {"changes": _CHANGES},
}


def example_body(event_type: str) -> dict:
    """A body of ``event_type`` as the receiver gets it."""
    return {
        "id": "evt_3f1c9a4e0b6d4c1fa2b7e8d9c0a1b2c3",
        "type": event_type,
        "created": "2026-11-11T00:00:02.104+08:00",
        "tenant": "acme",
        "data": EXAMPLE_DATA[event_type],
        "links": EXAMPLE_LINKS[event_type.split(".")[0]],
    }


HEADERS = [
    ("webhook-id", _("The event's id (`evt_…`): deduplicate on it.")),
    ("webhook-timestamp", _("Seconds since 1970 when this attempt was signed.")),
    (
        "webhook-signature",
        _(
            '`t=<timestamp>` and one `v1=<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.'
            '{raw body}">` per secret that still signs. Verify it: see docs/webhooks-verify.md.'
        ),
    ),
]

SIGNED = _(
    "Sent as a POST with a JSON body and three headers; verify `webhook-signature` before "
    "trusting the body (docs/webhooks-verify.md has the check in Python, Node, Java, Go and "
    "PHP)."
)

_RESPONSES = {
    "2XX": OpenApiResponse(description=_("Delivered. Answer quickly and work afterwards.")),
    "410": OpenApiResponse(description=_("Gone: the endpoint is disabled, nothing more is sent.")),
    "default": OpenApiResponse(
        description=_(
            "Anything else (another status, a redirect, a timeout): tried again on "
            "the retry ladder (about 3 days), then given up; redeliver it through the API."
        )
    ),
}


def _webhook(event_type: str) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=event_type,
        decorator=extend_schema(
            operation_id=f"webhook_{event_type.replace('.', '_')}",
            summary=EVENTS[event_type].summary,
            description=format_lazy("{}\n\n{}", EVENTS[event_type].detail, SIGNED),
            tags=[TAG],
            request=BODIES[event_type],
            responses=_RESPONSES,
            examples=[OpenApiExample(event_type, value=example_body(event_type))],
        ),
    )


WEBHOOKS = [_webhook(event_type) for event_type in EventType.values]


# the API's webhook resources: endpoints and deliveries
WEBHOOK_ENDPOINTS = Resource(
    "Webhook endpoints",
    _("URLs that receive signed events (see the webhooks of this document)."),
    {
        "list": list_operation(_("webhook endpoints"), ex.page(ex.ENDPOINT)),
        "retrieve": retrieve_operation(_("webhook endpoint"), ex.ENDPOINT),
        "create": Operation(
            _("Add a webhook endpoint"),
            _(
                "Events of the listed types are POSTed to the URL (read_write scope). The answer "
                "holds the signing secret once: store it to verify `webhook-signature`."
            ),
            request={
                "url": ex.ENDPOINT["url"],
                "description": ex.ENDPOINT["description"],
                "event_types": ex.ENDPOINT["event_types"],
            },
            response={**ex.ENDPOINT, "secret": ex.SECRET},
            status=201,
        ),
        "partial_update": Operation(
            _("Change a webhook endpoint"),
            _(
                "Changes the fields sent (read_write scope); `is_active: true` enables a disabled "
                "endpoint again."
            ),
            request={"event_types": ["trade.created", "trade.updated"], "is_active": True},
            response={**ex.ENDPOINT, "event_types": ["trade.created", "trade.updated"]},
        ),
        "destroy": Operation(
            _("Delete a webhook endpoint"),
            _("Deletes the endpoint and its deliveries (read_write scope)."),
            status=204,
        ),
        "rotate_secret": Operation(
            _("Rotate a webhook signing secret"),
            _(
                "Issues a new secret (read_write scope). The current one keeps signing beside it "
                "for `overlap_seconds`: each request then carries two `v1` signatures, so the "
                "receiver can switch without refusing one."
            ),
            request={"overlap_seconds": 86400},
            response={
                **ex.ENDPOINT,
                "secrets_expire_at": [None, "2026-11-12T10:00:00+08:00"],
                "secret": ex.SECRET,
            },
            status=201,
        ),
        "replays": Operation(
            _("Replay changes to this endpoint"),
            _(
                "Re-emits, as new events marked `replay: {id}`, the changes committed in "
                "`[since, until)` or those of up to 100 `tids` (or both), to this endpoint only "
                "(read_write scope); other endpoints get nothing. Only the event types the "
                "endpoint subscribes to. A worker emits them a page at a time; follow `state`, "
                "`changes_done` of `changes_total` and `deliveries` in `GET "
                "/api/v1/webhook-replays/{id}/`. 400: no since and no tids, since in the future, "
                "until before since, a bad tid, more than WEBHOOKS_REPLAY_MAX_CHANGES changes, a "
                "disabled endpoint; 409 while the endpoint has a replay queued or running."
            ),
            request={"since": "2026-11-11T00:00:00+08:00", "until": "2026-11-12T00:00:00+08:00"},
            response=ex.REPLAY,
            status=202,
        ),
        "test": Operation(
            _("Send a test event"),
            _(
                "Queues a `webhook.test` event to this endpoint only (read_write scope), whatever "
                "it subscribes to; follow it in the delivery returned."
            ),
            response=ex.TEST_DELIVERY,
            status=202,
        ),
    },
)
WEBHOOK_DELIVERIES = Resource(
    "Webhook deliveries",
    _("Each event for each endpoint, with every attempt; send any again."),
    {
        "list": list_operation(
            _("webhook deliveries"),
            ex.page(ex.DELIVERY),
            _(" Newest first; `endpoint` and `state` filter them."),
        ),
        "retrieve": retrieve_operation(
            _("webhook delivery"),
            ex.DELIVERY_DETAIL,
            _(" With the event's `data` and every attempt."),
        ),
        "redeliver": Operation(
            _("Send a delivery again"),
            _(
                "Queues the delivery again now (read_write scope) with the same `webhook-id`, "
                "whatever its state."
            ),
            response={"redelivered": 1, "next_after": None},
            status=202,
        ),
        "redeliver_range": Operation(
            _("Send an endpoint's deliveries of a time range again"),
            _(
                "Queues them again (read_write scope) a page at a time: at most "
                "WEBHOOKS_REDELIVER_PAGE, less the tenant's deliveries still waiting for a first "
                "try. While `next_after` is not null, send the request again with it as `after`."
            ),
            request={
                "endpoint": 3,
                "created_after": "2026-11-11T00:00:00+08:00",
                "created_before": "2026-11-12T00:00:00+08:00",
                "state": "failed",
            },
            response={"redelivered": 500, "next_after": 10520},
            status=202,
        ),
    },
)
WEBHOOK_REPLAYS = Resource(
    "Webhook replays",
    _("Changes re-emitted to one endpoint on request, with their progress and outcome."),
    {
        "list": list_operation(
            _("webhook replays"),
            ex.page(ex.REPLAY),
            _(" Newest first; `endpoint` and `state` filter them."),
        ),
        "retrieve": retrieve_operation(_("webhook replay"), ex.REPLAY),
    },
)
