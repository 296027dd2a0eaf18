"""What the partner API keeps itself: jobs it queued, and the answers to idempotent POSTs."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

from shops.models import Shop, Tenant


class Job(models.Model):
    """A job (sync, backfill, reconcile, refetch) a partner asked for, with what became of it.

    The worker's result hook (``trades.api.jobs.record_job_outcome``) writes the outcome here:
    the task queue keeps only its latest results, a job's record stays as long as its shop.
    """

    class State(models.TextChoices):
        QUEUED = "queued"  # waiting for a worker, or running
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="jobs")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    task_id = models.CharField(max_length=64, db_index=True, help_text="django-q2's task id")
    requested_at = models.DateTimeField(db_default=Now())
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    params = models.JSONField(
        default=dict, blank=True, help_text="what the job was asked to do (a re-pull's tids)"
    )
    outcome = models.JSONField(
        default=dict, blank=True, help_text="what the job did (a re-pull's counts), once done"
    )

    def __str__(self) -> str:
        return f"{self.kind} of shop {self.shop_id} ({self.state})"


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with ``Idempotency-Key``, replayed to a repeat.

    ``status_code`` is null while the first request runs. The body is encrypted: answers can
    hold secrets shown once (a new API key's token, a webhook signing secret).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField(blank=True, default="")
    location = models.CharField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotencykey_one_per_key"),
        ]
        indexes = [
            # each new key deletes some expired ones of its tenant
            models.Index(fields=["tenant", "expires_at"], name="idempotencykey_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"idempotency key {self.key!r}"
