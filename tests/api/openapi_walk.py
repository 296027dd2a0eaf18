"""Reading the generated OpenAPI document: its operations, examples and the schemas they meet."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

METHODS = {"get", "post", "put", "patch", "delete"}
DOCUMENT = "urn:ordersync:openapi"


def document() -> dict:
    """The schema exactly as /api/schema/ serves it."""
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(doc: dict) -> Iterator[tuple[str, dict]]:
    """("GET /api/v1/trades/", operation) for every path and webhook."""
    for section in ("paths", "webhooks"):
        for path, item in doc.get(section, {}).items():
            for method, operation in item.items():
                if method in METHODS:
                    yield f"{method.upper()} {path}", operation


def _closed(schema):
    """A copy where an object takes no property its schema does not name: an example with a
    misspelt or stale field fails."""
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_closed(value) for value in schema]
    return schema


# the closed copy of each document, by id (with the document, so a new one at the same id
# is not taken for it): a deep copy and a walk of the whole document for every example were
# most of test_openapi_docs.py's time
_REGISTRIES: dict[int, tuple[dict, Registry]] = {}


def _registry(doc: dict) -> Registry:
    kept = _REGISTRIES.get(id(doc))
    if kept is None or kept[0] is not doc:
        closed = _closed(copy.deepcopy(doc))
        kept = _REGISTRIES[id(doc)] = (
            doc,
            Registry().with_resource(DOCUMENT, Resource(closed, DRAFT202012)),
        )
    return kept[1]


def validator_for(doc: dict, schema: dict) -> Draft202012Validator:
    """A strict validator of ``schema``, whose references point into ``doc`` (read once:
    a document must not change after its first validator)."""
    registry = _registry(doc)
    absolute = json.loads(json.dumps(_closed(schema)).replace('"#/', f'"{DOCUMENT}#/'))
    return Draft202012Validator(absolute, registry=registry)


def problems(doc: dict, schema: dict, value) -> list[str]:
    found = validator_for(doc, schema).iter_errors(value)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]
