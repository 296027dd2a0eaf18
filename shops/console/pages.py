"""Pieces of console pages: preformatted text and JSON, kept readable."""

from __future__ import annotations

import json

from django.utils.html import format_html


def pre(text: str) -> str:
    """Multi-line text (tracebacks, JSON) kept readable in the admin."""
    if not text:
        return "—"
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


def pretty_json(value) -> str:
    return pre(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str))
