"""What the OpenAPI document says beyond the code: tags, summaries, descriptions, examples.

Each viewset names its :class:`Resource` (``openapi_resource = openapi.TRADES``);
``ApiSchema`` reads the tag and the operation of the action from it. :func:`finish_schema`
runs after the operations are built: it adds the tags' descriptions, the webhooks and the
words of each response. The schema test fails on an operation without a tag, summary,
description or example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drf_spectacular.plumbing import process_webhooks
from drf_spectacular.utils import OpenApiExample

from trades.api import examples as ex
from trades.webhooks.openapi import HEADERS, WEBHOOKS
from trades.webhooks.openapi import TAG as WEBHOOK_TAG


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str
    response: Any = None  # the success answer's body; None when it has none
    request: Any = None  # the body sent, for operations that take one
    status: int = 200

    def examples(self) -> list[OpenApiExample]:
        found = [
            OpenApiExample(
                f"{code} {body['code']}", value=body, response_only=True, status_codes=[str(code)]
            )
            for code, body in ex.ERRORS.items()
        ]
        if self.request is not None:
            found.insert(0, OpenApiExample("Request", value=self.request, request_only=True))
        if self.response is not None:
            found.insert(
                0,
                OpenApiExample(
                    "Answer",
                    value=self.response,
                    response_only=True,
                    status_codes=[str(self.status)],
                ),
            )
        return found


@dataclass(frozen=True)
class Resource:
    tag: str
    description: str
    operations: dict[str, Operation] = field(default_factory=dict)


def _list(what: str, example: dict, filters: str = "") -> Operation:
    return Operation(
        f"List {what}",
        f"{what.capitalize()} of the API key's tenant, a page at a time: pass `next_cursor` "
        f"as `cursor` while `has_more` is true. `limit` sets the page size and `fields=` picks "
        f"the fields returned.{filters}",
        response=example,
    )


def _get(what: str, example: dict, more: str = "") -> Operation:
    return Operation(
        f"Get {what}",
        f"One {what} of the API key's tenant; another tenant's is not found (404). The answer "
        f"carries an `ETag`: send it back as `If-None-Match` and an unchanged {what} answers "
        f"304 with no body.{more}",
        response=example,
    )


SHOPS = Resource(
    "Shops",
    "The tenant's Taobao and Tmall shops, with their sync health.",
    {
        "list": _list(
            "shops",
            ex.page(ex.SHOP),
            " `status` filters them; each shop shows its streams' cursors and lag, its last "
            "sync run and the failed runs of the last 24 hours.",
        ),
        "retrieve": _get("shop", ex.SHOP),
        "jobs": Operation(
            "Run a sync, backfill or reconcile now",
            "Queues a job for the shop (read_write scope) and answers 202 at once. `Location` "
            "(and `url`) is the job: `GET` it until its `state` is `succeeded` or `failed`. "
            "A tenant may queue a limited number of jobs per hour (429 with `Retry-After` "
            "past it).",
            request={"kind": "sync"},
            response=ex.JOB_QUEUED,
            status=202,
        ),
    },
)
JOBS = Resource(
    "Jobs",
    "Jobs queued through `POST /api/v1/shops/{id}/jobs/`, with their state.",
    {
        "list": _list("jobs", ex.page(ex.JOB), " Newest first; `shop`, `kind`, `state` filter."),
        "retrieve": _get("job", ex.JOB, " `state` moves from `queued` to `succeeded` or `failed`."),
    },
)
TRADES = Resource(
    "Trades",
    "Trades with their sub-orders, as last seen on the platform. Ids come as numbers and as "
    "strings (`tid_str`): JavaScript reads the strings.",
    {
        "list": _list(
            "trades",
            ex.page(ex.TRADE, next_cursor="WyIyMDI2LTExLTEwVDE2OjA0OjAwKzAwOjAwIiw1XQ"),
            " Newest change first. Filters: `shop`, `status`, `type`, `buyer_open_uid`, "
            "`created_after`/`created_before`, `modified_after`/`modified_before`; an unknown "
            "value is a 400 that lists the allowed ones. To follow changes, read the change "
            "feed instead.",
        ),
        "retrieve": _get(
            "trade",
            ex.TRADE_DETAIL,
            " By the platform's `tid` (number or string); with its refunds and the platform's "
            "record as last fetched (`payload`).",
        ),
    },
)
REFUNDS = Resource(
    "Refunds",
    "Refunds of the tenant's trades, as last seen on the platform.",
    {
        "list": _list(
            "refunds",
            ex.page(ex.REFUND),
            " Newest change first; `shop`, `status`, `tid` and "
            "`modified_after`/`modified_before` filter them.",
        ),
        "retrieve": _get(
            "refund",
            ex.REFUND_DETAIL,
            " By the platform's `refund_id`; with the platform's record (`payload`).",
        ),
    },
)
SYNC_RUNS = Resource(
    "Sync runs",
    "Every pull from the platform: its window, calls, pages and outcome.",
    {
        "list": _list(
            "sync runs",
            ex.page(ex.SYNC_RUN),
            " Newest first; `shop`, `kind`, `outcome` and `started_after`/`started_before` "
            "filter them.",
        ),
        "retrieve": _get("sync run", ex.SYNC_RUN),
    },
)
RECONCILE_REPORTS = Resource(
    "Reconcile reports",
    "The daily count of each shop's trades and refunds against the platform, and what it repaired.",
    {
        "list": _list(
            "reconcile reports",
            ex.page(ex.REPORT),
            " Newest first; `shop` and `day_after`/`day_before` filter them. `missing_found` "
            "0 is the normal result; anything else was missed "
            "by the sync and is now stored (a `reconcile.found_missing` webhook says so).",
        ),
        "retrieve": _get("reconcile report", ex.REPORT),
    },
)
CHANGES = Resource(
    "Change feed",
    "Every insert and update of the tenant's trades and refunds, in commit order, without "
    "gaps: the way to keep a copy current.",
    {
        "list": Operation(
            "Read the change feed",
            "Every insert or update of the tenant's trades and refunds, in commit order. Keep "
            "the returned `next_cursor` and pass it as `cursor`: a reader that does so never "
            "misses or repeats a change, even while several writers commit at once. Two "
            "changes of one trade come in the order they were committed, and a change is "
            "readable as soon as it commits. `has_more` says more are ready now; otherwise "
            "poll again later with the same cursor. `shop` reads one shop's changes with the "
            "same cursors. `entity` says what changed (trade or refund); `previous_status` is "
            "null when the row was inserted. Fetch the full object from the trades or "
            "refunds endpoint by `key`.",
            response=ex.page(ex.CHANGE, next_cursor="MjozOTE6OTkx"),
        ),
    },
)
API_KEYS = Resource(
    "API keys",
    "The tenant's API keys (read_write keys only). A token is shown once, when issued.",
    {
        "list": _list("API keys", ex.page(ex.API_KEY), " Revoked and expired keys too."),
        "retrieve": _get("API key", ex.API_KEY),
        "create": Operation(
            "Create an API key",
            "A new key of the tenant (read_write scope). The answer holds the token once; "
            "only its prefix is shown afterwards.",
            request={"name": "WMS", "scope": "read"},
            response={**ex.API_KEY, "last_used_at": None, "token": ex.TOKEN},
            status=201,
        ),
        "destroy": Operation(
            "Revoke an API key",
            "The key stops working at once (read_write scope); it stays listed as revoked.",
            status=204,
        ),
        "rotate": Operation(
            "Rotate an API key",
            "Issues a replacement (read_write scope); the old key keeps working for "
            "`grace_seconds` (0: stops now) so clients can switch without failing.",
            request={"grace_seconds": 3600},
            response={**ex.API_KEY, "id": 4, "last_used_at": None, "token": ex.TOKEN},
            status=201,
        ),
    },
)
WEBHOOK_ENDPOINTS = Resource(
    "Webhook endpoints",
    "URLs that receive signed events (see the webhooks of this document).",
    {
        "list": _list("webhook endpoints", ex.page(ex.ENDPOINT)),
        "retrieve": _get("webhook endpoint", ex.ENDPOINT),
        "create": Operation(
            "Add a webhook endpoint",
            "Events of the listed types are POSTed to the URL (read_write scope). The answer "
            "holds the signing secret once: store it to verify `webhook-signature`.",
            request={
                "url": ex.ENDPOINT["url"],
                "description": ex.ENDPOINT["description"],
                "event_types": ex.ENDPOINT["event_types"],
            },
            response={**ex.ENDPOINT, "secret": ex.SECRET},
            status=201,
        ),
        "partial_update": Operation(
            "Change a webhook endpoint",
            "Changes the fields sent (read_write scope); `is_active: true` enables a disabled "
            "endpoint again.",
            request={"event_types": ["trade.created", "trade.updated"], "is_active": True},
            response={**ex.ENDPOINT, "event_types": ["trade.created", "trade.updated"]},
        ),
        "destroy": Operation(
            "Delete a webhook endpoint",
            "Deletes the endpoint and its deliveries (read_write scope).",
            status=204,
        ),
        "rotate_secret": Operation(
            "Rotate a webhook signing secret",
            "Issues a new secret (read_write scope). The current one keeps signing beside it "
            "for `overlap_seconds`: each request then carries two `v1` signatures, so the "
            "receiver can switch without refusing one.",
            request={"overlap_seconds": 86400},
            response={
                **ex.ENDPOINT,
                "secrets_expire_at": [None, "2026-11-12T10:00:00+08:00"],
                "secret": ex.SECRET,
            },
            status=201,
        ),
        "test": Operation(
            "Send a test event",
            "Queues a `webhook.test` event to this endpoint only (read_write scope), whatever "
            "it subscribes to; follow it in the delivery returned.",
            response=ex.TEST_DELIVERY,
            status=202,
        ),
    },
)
WEBHOOK_DELIVERIES = Resource(
    "Webhook deliveries",
    "Each event for each endpoint, with every attempt; send any again.",
    {
        "list": _list(
            "webhook deliveries",
            ex.page(ex.DELIVERY),
            " Newest first; `endpoint` and `state` filter them.",
        ),
        "retrieve": _get(
            "webhook delivery", ex.DELIVERY_DETAIL, " With the event's `data` and every attempt."
        ),
        "redeliver": Operation(
            "Send a delivery again",
            "Queues the delivery again now (read_write scope) with the same `webhook-id`, "
            "whatever its state.",
            response={"redelivered": 1, "next_after": None},
            status=202,
        ),
        "redeliver_range": Operation(
            "Send an endpoint's deliveries of a time range again",
            "Queues them again (read_write scope) a page at a time: at most "
            "WEBHOOKS_REDELIVER_PAGE, less the tenant's deliveries still waiting for a first "
            "try. While `next_after` is not null, send the request again with it as `after`.",
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

RESOURCES = [
    SHOPS,
    TRADES,
    REFUNDS,
    CHANGES,
    SYNC_RUNS,
    RECONCILE_REPORTS,
    JOBS,
    WEBHOOK_ENDPOINTS,
    WEBHOOK_DELIVERIES,
    API_KEYS,
]

RESPONSES = {
    "200": "OK.",
    "201": "Created.",
    "202": "Accepted: queued, done in the background.",
    "204": "Done; no body.",
    "304": "Not modified: If-None-Match named the current ETag.",
    "400": "Invalid input: `errors` names each field or query parameter and what is wrong.",
    "401": "No API key, or one that is unknown, expired or revoked.",
    "403": "The key's scope does not allow this: it needs read_write.",
    "404": "Not found (another tenant's object is not found either).",
    "409": "A per-tenant cap is reached, or the first request with this Idempotency-Key is "
    "still running.",
    "422": "This Idempotency-Key was used with another request.",
    "429": "Too many requests: wait `Retry-After` seconds.",
}


def finish_schema(result: dict, generator, request, public) -> dict:
    """The webhooks, the tags' descriptions and the words of each response; runs before
    spectacular's enum hook, so the webhooks' enums get their components too."""
    result["webhooks"] = process_webhooks(WEBHOOKS, generator.registry)
    # the webhooks' bodies were registered after the components were built
    for name, schema in generator.registry.build({}).get("schemas", {}).items():
        result["components"]["schemas"].setdefault(name, schema)
    for operations in result["webhooks"].values():
        for operation in operations.values():
            operation["parameters"] = [
                {
                    "in": "header",
                    "name": name,
                    "required": True,
                    "description": text,
                    "schema": {"type": "string"},
                }
                for name, text in HEADERS
            ]
    for operations in result["paths"].values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                if not response.get("description"):
                    response["description"] = RESPONSES.get(code, "")
    result["tags"] = [{"name": r.tag, "description": r.description} for r in RESOURCES] + [
        {"name": WEBHOOK_TAG, "description": "What ordersync POSTs to webhook endpoints."}
    ]
    return result
