"""django-q2 entry points for webhooks: thin, calling the runner's verbs."""

from __future__ import annotations

from trades.webhooks.replay import queue_replay, resume_stale_replays, run_replay
from trades.webhooks.runner import deliver_webhooks, sweep_webhooks

SWEEP_TASK = "trades.webhooks.tasks.sweep_webhooks_task"


def deliver_webhooks_task(delivery_ids: list[int], not_before: float | None = None) -> str:
    """Queued after a commit that wrote deliveries, and for short retries."""
    tally = deliver_webhooks(delivery_ids, not_before)
    return f"{tally.succeeded}/{tally.attempts} delivered"


def sweep_webhooks_task() -> str:
    """Scheduled every minute: long retries, and whatever a lost task or a dead worker left
    (deliveries, and replays no worker steps)."""
    resume_stale_replays()
    tally = sweep_webhooks()
    return f"{tally.succeeded}/{tally.attempts} delivered"


def replay_webhooks_task(replay_id: int) -> str:
    """Queued when a replay is asked for: steps it for a while, then queues itself again
    until it has finished (unless another worker has it)."""
    done = run_replay(replay_id)
    if done is None:
        return "another worker has the replay"
    if done:
        return "replay finished"
    queue_replay(replay_id)
    return "replay goes on"
