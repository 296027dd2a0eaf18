"""What the partner API keeps itself: jobs it queued, and the answers to idempotent POSTs."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, Tenant


class Job(models.Model):
    """A job (sync, backfill, reconcile, refetch) a partner asked for, with what became of it.

    The worker's result hook (``trades.api.jobs.record_job_outcome``) writes the outcome here:
    the task queue keeps only its latest results, a job's record stays as long as its shop.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")  # waiting for a worker, or running
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("tenant")
    )
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("shop")
    )
    kind = models.CharField(max_length=16, verbose_name=_("kind"))
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.QUEUED, verbose_name=_("state")
    )
    task_id = models.CharField(
        max_length=64, db_index=True, help_text=_("django-q2's task id"), verbose_name=_("task id")
    )
    requested_at = models.DateTimeField(db_default=Now(), verbose_name=_("requested at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    error = models.TextField(blank=True, default="", verbose_name=_("error"))
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("what the job was asked to do (a re-pull's tids)"),
        verbose_name=_("params"),
    )
    outcome = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("what the job did (a re-pull's counts), once done"),
        verbose_name=_("outcome"),
    )

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")

    def __str__(self) -> str:
        return gettext("%(kind)s of shop %(shop)s (%(state)s)") % {
            "kind": self.kind,
            "shop": self.shop_id,
            "state": self.get_state_display(),
        }


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with ``Idempotency-Key``, replayed to a repeat.

    ``status_code`` is null while the first request runs. The body is encrypted: answers can
    hold secrets shown once (a new API key's token, a webhook signing secret).
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    key = models.CharField(max_length=255, verbose_name=_("key"))
    fingerprint = models.CharField(
        max_length=64,
        help_text=_("SHA-256 of method, path and body"),
        verbose_name=_("fingerprint"),
    )
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("status code")
    )
    body = models.TextField(blank=True, default="", verbose_name=_("body"))
    location = models.CharField(max_length=2000, blank=True, default="", verbose_name=_("location"))
    created_at = models.DateTimeField(db_default=Now(), verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotencykey_one_per_key"),
        ]
        indexes = [
            # each new key deletes some expired ones of its tenant
            models.Index(fields=["tenant", "expires_at"], name="idempotencykey_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"idempotency key {self.key!r}"
