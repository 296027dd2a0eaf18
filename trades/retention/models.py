"""One run of the retention job: what it removed, part by part, and how it ended."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RetentionRun(models.Model):
    class Outcome(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))
    outcome = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.RUNNING, verbose_name=_("outcome")
    )
    removed = models.JSONField(
        default=dict,
        blank=True,
        verbose_name=_("removed"),
        help_text=_("rows removed per part so far (updated per part)"),
    )
    error = models.TextField(blank=True, default="", verbose_name=_("error"))

    class Meta:
        verbose_name = _("retention run")

    def __str__(self) -> str:
        return f"retention {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"
