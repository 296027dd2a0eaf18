"""Running deliveries: the verbs that tasks, commands and the benchmark share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings

from trades.webhooks import delivery, record
from trades.webhooks.outbox import queue_deliveries


@dataclass
class Tally:
    attempts: int = 0
    succeeded: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, results: list[delivery.Result]) -> None:
        self.attempts += len(results)
        self.succeeded += sum(r.ok for r in results)
        for r in results:
            self.outcomes[r.outcome] = self.outcomes.get(r.outcome, 0) + 1


def deliver_batch(
    delivery_ids: list[int] | None = None, *, limit: int | None = None, requeue: bool = True
) -> list[delivery.Result]:
    """Claim, send and record one batch of due deliveries; return what happened.

    With ``requeue``, deliveries due again within ``WEBHOOKS_REQUEUE_SECONDS`` go back to the
    queue as a task that waits for them; later retries are left to the sweep.
    """
    jobs = delivery.claim(limit or settings.WEBHOOKS_BATCH_SIZE, delivery_ids)
    if not jobs:
        return []
    results = delivery.send_all(jobs)
    soon = record.record(results)
    if soon and requeue:
        queue_deliveries(sorted(soon), not_before=time.time() + min(soon.values()))
    return results


def deliver_webhooks(delivery_ids: list[int], not_before: float | None = None) -> Tally:
    """Deliver these deliveries if due (waiting until ``not_before`` first, briefly)."""
    if not_before is not None:
        wait = min(not_before - time.time(), settings.WEBHOOKS_REQUEUE_SECONDS)
        time.sleep(max(0.0, wait))
    tally = Tally()
    tally.add(deliver_batch(delivery_ids, limit=len(delivery_ids)))
    return tally


def sweep_webhooks(seconds: float = 50, *, requeue: bool = True, until_idle: bool = True) -> Tally:
    """Deliver every due delivery, batch after batch, for up to ``seconds``.

    Several sweeps (and delivery tasks) may run at once: claims skip each other's rows.
    With ``until_idle`` it returns as soon as nothing is due.
    """
    tally, deadline = Tally(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        results = deliver_batch(requeue=requeue)
        tally.add(results)
        if not results:
            if until_idle:
                break
            time.sleep(0.2)
    return tally
