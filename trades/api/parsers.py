"""The API's JSON parser: DRF's, with a bound on nesting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No request body of the API nests deeper than a few levels; a deep one is an attack or a bug.
MAX_DEPTH = 32


def too_deep() -> str:
    return _("JSON parse error - nested deeper than %(levels)d levels") % {"levels": MAX_DEPTH}


class BoundedJSONParser(JSONParser):
    """A body nested deeper than ``MAX_DEPTH`` is a 400, as is one too deep to parse at all
    (the standard parser raises RecursionError, a 500, past about a thousand levels)."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> object:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep()) from None
        if _depth_exceeds(data, MAX_DEPTH):
            raise ParseError(too_deep())
        return data


def _depth_exceeds(data: object, limit: int) -> bool:
    """Whether containers nest deeper than ``limit``; iterative, so no recursion of its own."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            if depth > limit:
                return True
            stack.extend((item, depth + 1) for item in value)
    return False
