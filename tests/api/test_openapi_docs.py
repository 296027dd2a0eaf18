"""The OpenAPI document reads as documentation: every operation has a tag, a summary, a
description and examples that match its schemas; every event type is described."""

from __future__ import annotations

import pytest

from tests.api.openapi_walk import document, operations, problems
from trades.feed.models import ChangeEvent
from trades.webhooks.models import EventType

DOC = document()
OPERATIONS = dict(operations(DOC))


def _json(part: dict) -> dict:
    return part.get("content", {}).get("application/json", {})


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_operation_has_a_tag_a_summary_a_description_and_examples(name):
    operation = OPERATIONS[name]
    described_tags = {tag["name"] for tag in DOC["tags"] if tag.get("description")}
    assert operation.get("tags") and set(operation["tags"]) <= described_tags, name
    assert operation.get("summary", "").strip(), f"{name} has no summary"
    assert operation.get("description", "").strip(), f"{name} has no description"
    assert operation["summary"] != operation["description"]
    request = _json(operation.get("requestBody", {}))
    if request:
        assert request.get("examples"), f"{name}: its request body has no example"
    answers = [
        (code, _json(response))
        for code, response in operation["responses"].items()
        if code.startswith("2") and _json(response)
    ]
    for code, answer in answers:
        assert answer.get("examples"), f"{name}: its {code} answer has no example"
    # an operation without a body either way (a DELETE) shows its errors
    shown = [request, *(_json(response) for response in operation["responses"].values())]
    assert any(part.get("examples") for part in shown), f"{name} has no example"
    for code, response in operation["responses"].items():
        assert response.get("description", "").strip(), f"{name}: {code} says nothing"


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_example_matches_its_schema(name):
    operation = OPERATIONS[name]
    parts = [("request", operation.get("requestBody", {}))]
    parts += [(code, response) for code, response in operation["responses"].items()]
    for where, part in parts:
        body = _json(part)
        for title, example in body.get("examples", {}).items():
            found = problems(DOC, body["schema"], example["value"])
            assert not found, f"{name} {where} example {title!r}: {found}"


def _described_values(enum: dict) -> dict[str, str]:
    """``{value: its description}`` from the enum's ``* `value` - description`` lines."""
    lines = enum.get("description", "").split("\n")
    pairs = [line[3:].split("` - ", 1) for line in lines if line.startswith("* `")]
    return {value: text for value, text in pairs}


def test_every_event_type_is_a_described_webhook_with_its_body():
    types = set(EventType.values)
    assert set(DOC["webhooks"]) == types
    enum = DOC["components"]["schemas"]["WebhookEventTypeEnum"]
    assert set(enum["enum"]) == types
    described = _described_values(enum)
    for event_type in types:
        # more than spectacular's default label (the value itself)
        assert len(described.get(event_type, "")) > len(event_type) + 20, event_type
        body = DOC["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
        assert "$ref" in body["schema"], event_type
        headers = {p["name"] for p in DOC["webhooks"][event_type]["post"]["parameters"]}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    # the subscribable ones, as endpoints take them, are described too
    subscribable = _described_values(DOC["components"]["schemas"]["EventTypesEnum"])
    assert set(subscribable) == types - {EventType.TEST}


def test_every_entity_of_the_change_feed_is_described():
    described = _described_values(DOC["components"]["schemas"]["EntityEnum"])
    assert set(described) == set(ChangeEvent.Entity.values)
    assert all(len(text) > 30 for text in described.values())
    change = DOC["components"]["schemas"]["Change"]["properties"]
    assert "#/components/schemas/EntityEnum" in str(change["entity"])
