"""Response headers every answer or every detail carries: rate limits and entity tags."""

from __future__ import annotations

import hashlib
import json
import math
from typing import TYPE_CHECKING

from django.core.serializers.json import DjangoJSONEncoder

if TYPE_CHECKING:
    from rest_framework.throttling import BaseThrottle


def rate_limit_headers(throttle: BaseThrottle) -> dict[str, str]:
    """``RateLimit-Limit/Remaining/Reset`` from a throttle's state after it decided.

    Reads either a counter throttle's ``result`` (count and window left) or DRF's
    SimpleRateThrottle history; nothing when the throttle did not count the request.
    """
    result = getattr(throttle, "result", None)
    if result is not None:
        return _headers(result.budget, result.budget - result.count, result.window_left)
    history = getattr(throttle, "history", None)
    if history is None or not getattr(throttle, "num_requests", None):
        return {}
    # DRF keeps the times of the window's requests, newest first: the oldest leaves first
    reset = history[-1] + throttle.duration - throttle.now if history else throttle.duration
    return _headers(throttle.num_requests, throttle.num_requests - len(history), reset)


def _headers(limit: int, remaining: int, reset_seconds: float) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, remaining)),
        "RateLimit-Reset": str(max(0, math.ceil(reset_seconds))),
    }


def etag(data: object) -> str:
    """A strong entity tag of a JSON body: it changes whenever the body would."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return f'"{hashlib.sha256(raw.encode()).hexdigest()[:32]}"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (or ``*``); weak tags compare by value."""
    if not if_none_match:
        return False
    tags = [part.strip().removeprefix("W/") for part in if_none_match.split(",")]
    return "*" in tags or tag in tags
