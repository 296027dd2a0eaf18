"""What the OpenAPI document says beyond the code: tags, summaries, descriptions, examples.

Each viewset names its :class:`Resource` (``openapi_resource = openapi.TRADES``);
``ApiSchema`` reads the tag and the operation of the action from it. The schema test fails on
an operation without a tag, summary, description or example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drf_spectacular.utils import OpenApiExample

from trades.api import examples as ex


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str
    response: Any = None  # the success answer's body; None when it has none
    request: Any = None  # the body sent, for operations that take one
    status: int = 200

    def examples(self) -> list[OpenApiExample]:
        """The request and the answer where they have bodies, then one of each error."""
        found = []
        if self.request is not None:
            found.append(OpenApiExample("Request", value=self.request, request_only=True))
        if self.response is not None:
            found.append(_answer("Answer", self.response, self.status))
        return found + [_answer(body["code"], body, code) for code, body in ex.ERRORS.items()]


def _answer(name: str, body: object, status: int) -> OpenApiExample:
    return OpenApiExample(name, value=body, response_only=True, status_codes=[str(status)])


@dataclass(frozen=True)
class Resource:
    tag: str
    description: str
    operations: dict[str, Operation] = field(default_factory=dict)


def list_operation(what: str, example: dict, filters: str = "") -> Operation:
    return Operation(
        f"List {what}",
        f"{what.capitalize()} of the API key's tenant, a page at a time: pass `next_cursor` "
        f"as `cursor` while `has_more` is true. `limit` sets the page size and `fields=` picks "
        f"the fields returned.{filters}",
        response=example,
    )


def retrieve_operation(what: str, example: dict, more: str = "") -> Operation:
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
        "list": list_operation(
            "shops",
            ex.page(ex.SHOP),
            " `status` filters them; each shop shows its streams' cursors and lag, its last "
            "sync run and the failed runs of the last 24 hours.",
        ),
        "retrieve": retrieve_operation("shop", ex.SHOP),
        "jobs": Operation(
            "Run a sync, backfill, reconcile or refetch now",
            "Queues a job for the shop (read_write scope) and answers 202 at once. `Location` "
            "(and `url`) is the job: `GET` it until its `state` is `succeeded` or `failed`. "
            "A tenant may queue a limited number of jobs per hour (429 with `Retry-After` "
            "past it). A `refetch` re-pulls up to 100 `tids` (numbers or strings) with "
            "trade.fullinfo.get, or one window (`modified_after`, `modified_before`: at most "
            "a day, within 90 days) with no cursor moved; the job's `outcome` counts fetched, "
            "written, not found and failed.",
            request={"kind": "refetch", "tids": ["4012345678901234567"]},
            response=ex.JOB_QUEUED,
            status=202,
        ),
    },
)
JOBS = Resource(
    "Jobs",
    "Jobs queued through `POST /api/v1/shops/{id}/jobs/`, with their state.",
    {
        "list": list_operation(
            "jobs", ex.page(ex.JOB), " Newest first; `shop`, `kind`, `state` filter."
        ),
        "retrieve": retrieve_operation(
            "job", ex.JOB, " `state` moves from `queued` to `succeeded` or `failed`."
        ),
    },
)
TRADES = Resource(
    "Trades",
    "Trades with their sub-orders, as last seen on the platform. Ids come as numbers and as "
    "strings (`tid_str`): JavaScript reads the strings.",
    {
        "list": list_operation(
            "trades",
            ex.page(ex.TRADE, next_cursor="WyIyMDI2LTExLTEwVDE2OjA0OjAwKzAwOjAwIiw1XQ"),
            " Newest change first. Filters: `shop`, `status`, `type`, `buyer_open_uid`, "
            "`created_after`/`created_before`, `modified_after`/`modified_before`; an unknown "
            "value is a 400 that lists the allowed ones. To follow changes, read the change "
            "feed instead.",
        ),
        "retrieve": retrieve_operation(
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
        "list": list_operation(
            "refunds",
            ex.page(ex.REFUND),
            " Newest change first; `shop`, `status`, `tid` and "
            "`modified_after`/`modified_before` filter them.",
        ),
        "retrieve": retrieve_operation(
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
        "list": list_operation(
            "sync runs",
            ex.page(ex.SYNC_RUN),
            " Newest first; `shop`, `kind`, `outcome` and `started_after`/`started_before` "
            "filter them.",
        ),
        "retrieve": retrieve_operation("sync run", ex.SYNC_RUN),
    },
)
PRESALE_RESERVATIONS = Resource(
    "Presale reservations",
    "The stock the tenant's presale (预售) trades hold, per shop and SKU: freeze it until "
    "the final payment or the forfeit.",
    {
        "list": list_operation(
            "presale reservations",
            ex.page(ex.RESERVATION),
            " One row per shop, SKU and stage, with the units and trades. `stage` is "
            "`deposit_paid` unless asked otherwise: the units reserved. `shop` and `sku` "
            "(a `sku_id` or an `outer_sku_id`) filter them. The numbers are those of the "
            "stored trades as they are now; the `trade.presale_*` events say when they move.",
        ),
    },
)
RECONCILE_REPORTS = Resource(
    "Reconcile reports",
    "The daily count of each shop's trades and refunds against the platform, and what it repaired.",
    {
        "list": list_operation(
            "reconcile reports",
            ex.page(ex.REPORT),
            " Newest first; `shop` and `day_after`/`day_before` filter them. `missing_found` "
            "0 is the normal result; anything else was missed "
            "by the sync and is now stored (a `reconcile.found_missing` webhook says so).",
        ),
        "retrieve": retrieve_operation("reconcile report", ex.REPORT),
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
        "cursor": Operation(
            "A change-feed cursor as of a time",
            "A cursor that starts a reader at the changes committed at or after `as_of`, so "
            "a new partner begins where it needs instead of at the start or the head. A "
            "transaction that began before `as_of` and committed after it comes too: a "
            "change may come once more than needed, none is missed. With no commit since "
            "`as_of` the cursor is the head. A future, missing or malformed `as_of` is a 400.",
            response={"cursor": "MjozODc6MA", "as_of": "2026-11-11T00:00:00+08:00"},
        ),
    },
)
API_KEYS = Resource(
    "API keys",
    "The tenant's API keys (read_write keys only). A token is shown once, when issued.",
    {
        "list": list_operation("API keys", ex.page(ex.API_KEY), " Revoked and expired keys too."),
        "retrieve": retrieve_operation("API key", ex.API_KEY),
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

EXPORT_TAG = "Exports"
_EXPORT = (
    " of the API key's tenant over a range of modified time (`modified_after` inclusive, "
    "`modified_before` exclusive; `shop` narrows), oldest change first, streamed as "
    "`format=ndjson` (default) or `csv`. Every row carries its `cursor`: an export cut off "
    "resumes with `cursor=` the last one received. NDJSON ends with "
    '`{"end": true, "rows": n, "cursor": …}`, CSV with `#end rows=n cursor=…`: without it the '
    "export was cut. Ids come as numbers and as strings (`tid_str`, `oid_str`, `refund_id_str`)."
)
TRADE_EXPORTS = Resource(
    EXPORT_TAG,
    "Bulk exports of a tenant's trades and refunds, streamed and resumable.",
    {"list": Operation("Export trades", "Trades with their lines (`lines`)" + _EXPORT)},
)
REFUND_EXPORTS = Resource(
    EXPORT_TAG,
    TRADE_EXPORTS.description,
    {"list": Operation("Export refunds", "Refunds" + _EXPORT)},
)

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
