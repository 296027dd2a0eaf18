"""django-q2 entry points for webhooks: thin, calling the runner's verbs."""

from __future__ import annotations

from trades.webhooks.runner import deliver_webhooks, sweep_webhooks

SWEEP_TASK = "trades.webhooks.tasks.sweep_webhooks_task"


def deliver_webhooks_task(delivery_ids: list[int], not_before: float | None = None) -> str:
    """Queued after a commit that wrote deliveries, and for short retries."""
    tally = deliver_webhooks(delivery_ids, not_before)
    return f"{tally.succeeded}/{tally.attempts} delivered"


def sweep_webhooks_task() -> str:
    """Scheduled every minute: long retries, and whatever a lost task or a dead worker left."""
    tally = sweep_webhooks()
    return f"{tally.succeeded}/{tally.attempts} delivered"
