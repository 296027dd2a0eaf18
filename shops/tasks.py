"""django-q2 task entry points of shops: thin, calling the verbs."""

from __future__ import annotations

from shops.onboarding import refresh_due_tokens


def refresh_tokens() -> dict[str, int]:
    """Scheduled: refresh sessions before they expire (see ``shops.onboarding``)."""
    return refresh_due_tokens()
