"""What an event looks like on the wire: small, signed, pointing at the API for the rest."""

from __future__ import annotations

import json
from datetime import datetime

from django.urls import reverse

from ordersync.shown import iso
from trades.webhooks.models import WebhookEvent

# which API object an event (by its type's prefix) is about: (link name, data key, route
# name, route kwarg); a parcel's events point at its trade
_LINKS = {
    "trade": ("trade", "tid", "trade-detail", "tid"),
    "refund": ("refund", "refund_id", "refund-detail", "refund_id"),
    "logistics": ("trade", "tid", "trade-detail", "tid"),
    "shop": ("shop", "shop", "shop-detail", "pk"),
    "reconcile": ("reconcile", "report", "reconcilereport-detail", "pk"),
}


# platform ids that outgrow JavaScript's exact integers (2**53), alone and in lists
STRING_IDS = ("tid", "oid", "refund_id")
STRING_ID_LISTS = ("tids", "refund_ids")


def with_string_ids(data: dict) -> dict:
    """``data`` plus ``<id>_str`` beside each platform id (``tids_str`` beside ``tids``)."""
    extra = {f"{key}_str": str(data[key]) for key in STRING_IDS if data.get(key) is not None}
    for key in STRING_ID_LISTS:
        if isinstance(data.get(key), list):
            extra[f"{key}_str"] = [str(value) for value in data[key]]
    return {**data, **extra}


def in_platform_time(data: dict) -> dict:
    """``data`` with its ``modified`` time written in platform time (``+08:00``), as the API
    writes it: the database hands it over in UTC."""
    modified = data.get("modified")
    if not isinstance(modified, str):
        return data
    try:
        return {**data, "modified": iso(datetime.fromisoformat(modified))}
    except ValueError:
        return data


def links(event: WebhookEvent) -> dict[str, str]:
    """API paths of the object the event is about, and of the change feed."""
    found = {"changes": reverse("change-list")}
    entity = event.type.split(".", 1)[0]
    if entity in _LINKS:
        name, key, route, kwarg = _LINKS[entity]
        if event.data.get(key) is not None:
            found[name] = reverse(route, kwargs={kwarg: event.data[key]})
    return found


def render(event: WebhookEvent, tenant_slug: str) -> bytes:
    """The request body: ``{id, type, created, tenant, data, links}`` as compact JSON.

    Platform ids in ``data`` come as numbers and as strings (``tid_str``…), as in the API;
    times are ISO 8601 in platform time (``+08:00``), as in the API.

    ``data.modified`` (for trades and refunds) is the platform's modified time of the version
    reported: deliveries are not ordered, so a receiver keeps the newest it has seen.
    """
    body = {
        "id": event.public_id,
        "type": event.type,
        "created": iso(event.created_at),
        "tenant": tenant_slug,
        "data": with_string_ids(in_platform_time(event.data)),
        "links": links(event),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
