"""The OpenAPI document's last touches, above the API and the webhooks that build on it.

:func:`finish_schema` runs after spectacular built the operations: it adds the webhooks (one
per event type), the tags with their descriptions, the three signature headers of each
webhook and the meaning of each response status.
"""

from __future__ import annotations

from drf_spectacular.plumbing import process_webhooks

from trades.api.openapi import RESOURCES as API_RESOURCES
from trades.api.openapi import RESPONSES
from trades.webhooks.openapi import HEADERS, TAG, WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, WEBHOOKS

RESOURCES = [*API_RESOURCES[:-1], WEBHOOK_ENDPOINTS, WEBHOOK_DELIVERIES, API_RESOURCES[-1]]


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
        {"name": TAG, "description": "What ordersync POSTs to webhook endpoints."}
    ]
    return result
