"""django-q2 task entry points of shops: thin, calling the verbs."""

from __future__ import annotations

from shops.onboarding import refresh_due_tokens
from shops.schedules import dispatch_due_shops


def refresh_tokens() -> dict[str, int]:
    """Scheduled: refresh sessions before they expire (see ``shops.onboarding``)."""
    return refresh_due_tokens()


def dispatch_shops() -> dict[str, int]:
    """Scheduled every minute: queue the syncs and reconciles that are due (``shops.schedules``)."""
    return dispatch_due_shops()
