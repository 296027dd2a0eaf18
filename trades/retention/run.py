"""The retention job: every part in turn, its progress and outcome kept in a
:class:`RetentionRun` (the console's *retention runs*)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from trades.retention import erase, prune
from trades.retention.models import RetentionRun

log = logging.getLogger(__name__)

# part -> (setting of its age in days, pruner); an age of 0 keeps everything of that part
PARTS: dict[str, tuple[str, Callable]] = {
    "change_events": ("RETENTION_FEED_DAYS", prune.prune_feed),
    "webhook_events": ("RETENTION_WEBHOOK_EVENT_DAYS", prune.prune_webhook_events),
    "webhook_attempts": ("RETENTION_WEBHOOK_ATTEMPT_DAYS", prune.prune_webhook_attempts),
    "sync_runs": ("RETENTION_SYNC_RUN_DAYS", prune.prune_sync_runs),
    "reconcile_reports": ("RETENTION_RECONCILE_REPORT_DAYS", prune.prune_reconcile_reports),
    "jdp_findings": ("RETENTION_JDP_FINDING_DAYS", prune.prune_jdp_findings),
}


def run_retention() -> RetentionRun:
    """Prune every part past its age, then erase the buyer data that is due."""
    run = RetentionRun.objects.create()
    try:
        for part, (setting, pruner) in PARTS.items():
            days = getattr(settings, setting)
            if days:
                cutoff = timezone.now() - timedelta(days=days)
                _progress(run, part, pruner(cutoff, settings.RETENTION_BATCH_SIZE))
        grace = timedelta(days=settings.BUYER_DATA_GRACE_DAYS)
        _progress(run, "shops_erased", erase.erase_due(grace, settings.RETENTION_BATCH_SIZE))
    except Exception as error:
        _finish(run, RetentionRun.Outcome.FAILED, f"{type(error).__name__}: {error}")
        log.exception("retention run %s failed", run.pk)
        raise
    _finish(run, RetentionRun.Outcome.SUCCEEDED)
    return run


def _progress(run: RetentionRun, part: str, removed: int) -> None:
    run.removed[part] = removed
    RetentionRun.objects.filter(pk=run.pk).update(removed=run.removed)


def _finish(run: RetentionRun, outcome: str, error: str = "") -> None:
    run.outcome, run.error, run.finished_at = outcome, error, timezone.now()
    run.save(update_fields=["outcome", "error", "finished_at"])
