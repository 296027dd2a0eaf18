"""One hook that sees every HTTP call to TOP (metrics and run counters subscribe to it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallRecord:
    method: str
    app_key: str
    duration: float  # seconds, wall time of the HTTP exchange
    outcome: str  # "ok" or the error class name, e.g. "Transient"
    code: int | None = None
    sub_code: str | None = None


Listener = Callable[[CallRecord], None]
_listeners: list[Listener] = []


def add_listener(fn: Listener) -> None:
    if fn not in _listeners:
        _listeners.append(fn)


def remove_listener(fn: Listener) -> None:
    if fn in _listeners:
        _listeners.remove(fn)


def emit(record: CallRecord) -> None:
    """Tell every listener; a broken listener is logged and must not fail the sync."""
    for fn in list(_listeners):
        try:
            fn(record)
        except Exception:
            logger.exception("TOP call listener %r failed", fn)
