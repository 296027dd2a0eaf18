"""Webhook deliveries per second: the outbound webhooks' own benchmark, sized for the run."""

from __future__ import annotations

from trades.webhooks.bench import run


def measure_webhooks(quick: bool) -> dict:
    """Trades written with their outbox events, then delivered to a fast loopback receiver."""
    return {"measured": True, **run(events=1000 if quick else 5000)}
