"""What the OpenAPI document says beyond the code: tags, summaries, descriptions, examples.

Each viewset names its :class:`Resource` (``openapi_resource = openapi.TRADES``);
``ApiSchema`` reads the tag and the operation of the action from it. The schema test fails on
an operation without a tag, summary, description or example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample

from trades.api import examples as ex

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# the document's texts: lazy, so /api/schema/?lang=zh-hans (and the docs page) reads them in
# Chinese and ?lang=en in English
Text = Union[str, "StrOrPromise"]


@dataclass(frozen=True)
class Operation:
    summary: Text
    description: Text
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
    description: Text
    operations: dict[str, Operation] = field(default_factory=dict)


def list_operation(what: Text, example: dict, filters: Text = "") -> Operation:
    return Operation(
        format_lazy(_("List {what}"), what=what),
        format_lazy(
            _(
                "{what} of the API key's tenant, a page at a time: pass `next_cursor` as "
                "`cursor` while `has_more` is true. `limit` sets the page size and `fields=` "
                "picks the fields returned.{filters}"
            ),
            what=capfirst(what),
            filters=filters,
        ),
        response=example,
    )


def retrieve_operation(what: Text, example: dict, more: Text = "") -> Operation:
    return Operation(
        format_lazy(_("Get {what}"), what=what),
        format_lazy(
            _(
                "One {what} of the API key's tenant; another tenant's is not found (404). The "
                "answer carries an `ETag`: send it back as `If-None-Match` and an unchanged "
                "{what} answers 304 with no body.{more}"
            ),
            what=what,
            more=more,
        ),
        response=example,
    )


SHOPS = Resource(
    "Shops",
    _("The tenant's Taobao and Tmall shops, with their sync health."),
    {
        "list": list_operation(
            _("shops"),
            ex.page(ex.SHOP),
            _(
                " `status` filters them; each shop shows its streams' cursors and lag, its last "
                "sync run and the failed runs of the last 24 hours."
            ),
        ),
        "retrieve": retrieve_operation(_("shop"), ex.SHOP),
        "jobs": Operation(
            _("Run a sync, backfill, reconcile or refetch now"),
            _(
                "Queues a job for the shop (read_write scope) and answers 202 at once. `Location` "
                "(and `url`) is the job: `GET` it until its `state` is `succeeded` or `failed`. "
                "A tenant may queue a limited number of jobs per hour (429 with `Retry-After` "
                "past it). A `refetch` re-pulls up to 100 `tids` (numbers or strings) with "
                "trade.fullinfo.get, or one window (`modified_after`, `modified_before`: at most "
                "a day, within 90 days) with no cursor moved; the job's `outcome` counts fetched, "
                "written, not found and failed."
            ),
            request={"kind": "refetch", "tids": ["4012345678901234567"]},
            response=ex.JOB_QUEUED,
            status=202,
        ),
    },
)
JOBS = Resource(
    "Jobs",
    _("Jobs queued through `POST /api/v1/shops/{id}/jobs/`, with their state."),
    {
        "list": list_operation(
            _("jobs"), ex.page(ex.JOB), _(" Newest first; `shop`, `kind`, `state` filter.")
        ),
        "retrieve": retrieve_operation(
            _("job"), ex.JOB, _(" `state` moves from `queued` to `succeeded` or `failed`.")
        ),
    },
)
TRADES = Resource(
    "Trades",
    _(
        "Trades with their sub-orders, as last seen on the platform. Ids come as numbers and as "
        "strings (`tid_str`): JavaScript reads the strings."
    ),
    {
        "list": list_operation(
            _("trades"),
            ex.page(ex.TRADE, next_cursor="WyIyMDI2LTExLTEwVDE2OjA0OjAwKzAwOjAwIiw1XQ"),
            _(
                " Newest change first. Filters: `shop`, `status`, `type`, `buyer_open_uid`, "
                "`created_after`/`created_before`, `modified_after`/`modified_before`; an unknown "
                "value is a 400 that lists the allowed ones. To follow changes, read the change "
                "feed instead."
            ),
        ),
        "retrieve": retrieve_operation(
            _("trade"),
            ex.TRADE_DETAIL,
            _(
                " By the platform's `tid` (number or string); with its refunds and the platform's "
                "record as last fetched (`payload`)."
            ),
        ),
    },
)
REFUNDS = Resource(
    "Refunds",
    _("Refunds of the tenant's trades, as last seen on the platform."),
    {
        "list": list_operation(
            _("refunds"),
            ex.page(ex.REFUND),
            _(
                " Newest change first; `shop`, `status`, `tid` and "
                "`modified_after`/`modified_before` filter them."
            ),
        ),
        "retrieve": retrieve_operation(
            _("refund"),
            ex.REFUND_DETAIL,
            _(" By the platform's `refund_id`; with the platform's record (`payload`)."),
        ),
    },
)
SYNC_RUNS = Resource(
    "Sync runs",
    _("Every pull from the platform: its window, calls, pages and outcome."),
    {
        "list": list_operation(
            _("sync runs"),
            ex.page(ex.SYNC_RUN),
            _(
                " Newest first; `shop`, `kind`, `outcome` and `started_after`/`started_before` "
                "filter them."
            ),
        ),
        "retrieve": retrieve_operation(_("sync run"), ex.SYNC_RUN),
    },
)
PRESALE_RESERVATIONS = Resource(
    "Presale reservations",
    _(
        "The stock the tenant's presale (预售) trades hold, per shop and SKU: freeze it until "
        "the final payment or the forfeit."
    ),
    {
        "list": list_operation(
            _("presale reservations"),
            ex.page(ex.RESERVATION),
            _(
                " One row per shop, SKU and stage, with the units and trades. `stage` is "
                "`deposit_paid` unless asked otherwise: the units reserved. `shop` and `sku` "
                "(a `sku_id` or an `outer_sku_id`) filter them. The numbers are those of the "
                "stored trades as they are now; the `trade.presale_*` events say when they move."
            ),
        ),
    },
)
RECONCILE_REPORTS = Resource(
    "Reconcile reports",
    _(
        "The daily count of each shop's trades and refunds against the platform, and what it "
        "repaired."
    ),
    {
        "list": list_operation(
            _("reconcile reports"),
            ex.page(ex.REPORT),
            _(
                " Newest first; `shop` and `day_after`/`day_before` filter them. `missing_found` "
                "0 is the normal result; anything else was missed "
                "by the sync and is now stored (a `reconcile.found_missing` webhook says so)."
            ),
        ),
        "retrieve": retrieve_operation(_("reconcile report"), ex.REPORT),
    },
)
CHANGES = Resource(
    "Change feed",
    _(
        "Every insert and update of the tenant's trades and refunds, in commit order, without "
        "gaps: the way to keep a copy current."
    ),
    {
        "list": Operation(
            _("Read the change feed"),
            _(
                "Every insert or update of the tenant's trades and refunds, in commit order. Keep "
                "the returned `next_cursor` and pass it as `cursor`: a reader that does so never "
                "misses or repeats a change, even while several writers commit at once. Two "
                "changes of one trade come in the order they were committed, and a change is "
                "readable as soon as it commits. `has_more` says more are ready now; otherwise "
                "poll again later with the same cursor. `shop` reads one shop's changes with the "
                "same cursors. `entity` says what changed (trade, refund, or a parcel of a "
                "shipped trade whose stall began or ended); `previous_status` is null when the "
                "row was inserted. Fetch the full object from the trades or refunds endpoint by "
                "`key` (a parcel's `key` is its trade's `tid`)."
            ),
            response=ex.page(ex.CHANGE, next_cursor="MjozOTE6OTkx"),
        ),
        "cursor": Operation(
            _("A change-feed cursor as of a time"),
            _(
                "A cursor that starts a reader at the changes committed at or after `as_of`, so "
                "a new partner begins where it needs instead of at the start or the head. A "
                "transaction that began before `as_of` and committed after it comes too: a "
                "change may come once more than needed, none is missed. With no commit since "
                "`as_of` the cursor is the head. A future, missing or malformed `as_of` is a 400."
            ),
            response={"cursor": "MjozODc6MA", "as_of": "2026-11-11T00:00:00+08:00"},
        ),
    },
)
API_KEYS = Resource(
    "API keys",
    _("The tenant's API keys (read_write keys only). A token is shown once, when issued."),
    {
        "list": list_operation(
            _("API keys"), ex.page(ex.API_KEY), _(" Revoked and expired keys too.")
        ),
        "retrieve": retrieve_operation(_("API key"), ex.API_KEY),
        "create": Operation(
            _("Create an API key"),
            _(
                "A new key of the tenant (read_write scope). The answer holds the token once; "
                "only its prefix is shown afterwards."
            ),
            request={"name": "WMS", "scope": "read"},
            response={**ex.API_KEY, "last_used_at": None, "token": ex.TOKEN},
            status=201,
        ),
        "destroy": Operation(
            _("Revoke an API key"),
            _("The key stops working at once (read_write scope); it stays listed as revoked."),
            status=204,
        ),
        "rotate": Operation(
            _("Rotate an API key"),
            _(
                "Issues a replacement (read_write scope); the old key keeps working for "
                "`grace_seconds` (0: stops now) so clients can switch without failing."
            ),
            request={"grace_seconds": 3600},
            response={**ex.API_KEY, "id": 4, "last_used_at": None, "token": ex.TOKEN},
            status=201,
        ),
    },
)

EXPORT_TAG = "Exports"
_EXPORT = _(
    " of the API key's tenant over a range of modified time (`modified_after` inclusive, "
    "`modified_before` exclusive; `shop` narrows), oldest change first, streamed as "
    "`format=ndjson` (default) or `csv`. Every row carries its `cursor`: an export cut off "
    "resumes with `cursor=` the last one received. NDJSON ends with "
    '`{"end": true, "rows": n, "cursor": …}`, CSV with `#end rows=n cursor=…`: without it the '
    "export was cut. Ids come as numbers and as strings (`tid_str`, `oid_str`, `refund_id_str`)."
)
TRADE_EXPORTS = Resource(
    EXPORT_TAG,
    _("Bulk exports of a tenant's trades and refunds, streamed and resumable."),
    {
        "list": Operation(
            _("Export trades"), format_lazy("{}{}", _("Trades with their lines (`lines`)"), _EXPORT)
        )
    },
)
REFUND_EXPORTS = Resource(
    EXPORT_TAG,
    TRADE_EXPORTS.description,
    {"list": Operation(_("Export refunds"), format_lazy("{}{}", _("Refunds"), _EXPORT))},
)
AUDIT = Resource(
    "Audit log",
    _(
        "Who did what to the tenant, when and from where: jobs asked for, keys, webhook "
        "endpoints, shops connected or paused, changes in the console. Read_write keys only."
    ),
    {
        "list": list_operation(
            _("audit entries"),
            ex.page(ex.AUDIT_ENTRY),
            _(" Newest first; `action`, `actor_kind` and `at_after`/`at_before` filter them."),
        ),
        "retrieve": retrieve_operation(_("audit entry"), ex.AUDIT_ENTRY),
    },
)
AUDIT_EXPORTS = Resource(
    EXPORT_TAG,
    TRADE_EXPORTS.description,
    {
        "list": Operation(
            _("Export the audit log"),
            format_lazy(
                "{}{}",
                _(
                    "Audit entries, oldest first; `modified_after`/`modified_before` bound "
                    "their `at`"
                ),
                _EXPORT,
            ),
        )
    },
)

RESPONSES = {
    "200": _("OK."),
    "201": _("Created."),
    "202": _("Accepted: queued, done in the background."),
    "204": _("Done; no body."),
    "304": _("Not modified: If-None-Match named the current ETag."),
    "400": _("Invalid input: `errors` names each field or query parameter and what is wrong."),
    "401": _("No API key, or one that is unknown, expired or revoked."),
    "403": _("The key's scope does not allow this: it needs read_write."),
    "404": _("Not found (another tenant's object is not found either)."),
    "409": _(
        "A per-tenant cap is reached, or the first request with this Idempotency-Key is "
        "still running."
    ),
    "422": _("This Idempotency-Key was used with another request."),
    "429": _("Too many requests: wait `Retry-After` seconds."),
}
