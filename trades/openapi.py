"""The OpenAPI document's last touches, above the API and the webhooks that build on it.

:func:`finish_schema` runs after spectacular built the operations: it adds the webhooks (one
per event type), the tags with their descriptions, the three signature headers of each
webhook and the meaning of each response status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.plumbing import process_webhooks

from trades.api import openapi as api
from trades.replenish.views import RESOURCE as REPLENISHMENT
from trades.webhooks import openapi as webhooks

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.plumbing import ComponentRegistry
    from rest_framework.request import Request

# the document's own description; its links switch the language of the docs page (/api/docs/)
DESCRIPTION = _(
    "Trades, refunds and a gapless change feed of one tenant, by API key. "
    "Read in: [简体中文](?lang=zh-hans) · [English](?lang=en)"
)
# the tags in the order a partner reads them
RESOURCES = [
    api.SHOPS,
    api.TRADES,
    api.REFUNDS,
    api.CHANGES,
    api.SYNC_RUNS,
    api.RECONCILE_REPORTS,
    api.PRESALE_RESERVATIONS,
    REPLENISHMENT,
    api.JOBS,
    api.TRADE_EXPORTS,  # and REFUND_EXPORTS: one tag
    webhooks.WEBHOOK_ENDPOINTS,
    webhooks.WEBHOOK_DELIVERIES,
    webhooks.WEBHOOK_REPLAYS,
    api.API_KEYS,
    api.AUDIT,
]
EVENTS_TAG = {"name": webhooks.TAG, "description": _("What ordersync POSTs to webhook endpoints.")}


def finish_schema(
    result: dict[str, Any], generator: SchemaGenerator, request: Request | None, public: bool
) -> dict[str, Any]:
    """Runs before spectacular's enum hook, so the webhooks' enums get their components too."""
    _add_webhooks(result, generator.registry)
    _describe_responses(result)
    result["tags"] = [{"name": r.tag, "description": str(r.description)} for r in RESOURCES]
    result["tags"].append({**EVENTS_TAG, "description": str(EVENTS_TAG["description"])})
    result["info"]["description"] = str(DESCRIPTION)
    return result


def _add_webhooks(result: dict[str, Any], registry: ComponentRegistry) -> None:
    result["webhooks"] = process_webhooks(webhooks.WEBHOOKS, registry)
    # the webhooks' bodies were registered after the components were built
    for name, schema in registry.build({}).get("schemas", {}).items():
        result["components"]["schemas"].setdefault(name, schema)
    for item in result["webhooks"].values():
        for operation in item.values():
            operation["parameters"] = [_header(name, text) for name, text in webhooks.HEADERS]


def _header(name: str, description: StrOrPromise) -> dict:
    where = {"in": "header", "name": name, "required": True}
    return {**where, "description": str(description), "schema": {"type": "string"}}


def _describe_responses(result: dict) -> None:
    for item in result["paths"].values():
        for operation in item.values():
            for code, response in operation.get("responses", {}).items():
                if not response.get("description"):
                    response["description"] = str(api.RESPONSES.get(code, ""))
