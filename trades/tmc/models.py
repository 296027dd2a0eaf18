"""What the TMC consumers keep in PostgreSQL: counters for ``/metrics`` and per-shop state."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shops.models import Shop


class TmcStat(models.Model):
    """One counter of the TMC consumers of an app, summed over every consumer process.

    Names: ``messages:<outcome>``, ``fetches:<kind>``, ``confirm_lag_seconds:sum|count``,
    ``freshness_seconds:sum|count`` (see ``trades/tmc/stats.py``).
    """

    app_key = models.CharField(max_length=64, verbose_name=_("app key"))
    name = models.CharField(max_length=64, verbose_name=_("name"))
    value = models.FloatField(default=0.0, verbose_name=_("value"))

    class Meta:
        verbose_name = _("TMC stat")
        verbose_name_plural = _("TMC stats")
        constraints = [
            models.UniqueConstraint(fields=["app_key", "name"], name="tmcstat_one_per_series")
        ]

    def __str__(self) -> str:
        return f"{self.app_key} {self.name}: {self.value:g}"


class TmcShop(models.Model):
    """A shop's TMC subscription and the freshness of the last change TMC brought in."""

    shop = models.OneToOneField(
        Shop, on_delete=models.CASCADE, primary_key=True, related_name="tmc", verbose_name=_("shop")
    )
    permitted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("taobao.tmc.user.permit succeeded; null: permit again"),
        verbose_name=_("permitted at"),
    )
    last_message_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last message at"))
    last_change_modified = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("platform modified of the last change TMC wrote"),
        verbose_name=_("last change modified"),
    )
    freshness_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text=_("platform modified → committed here, last change"),
        verbose_name=_("freshness seconds"),
    )

    class Meta:
        verbose_name = _("TMC shop")
        verbose_name_plural = _("TMC shops")

    def __str__(self) -> str:
        return gettext("TMC of shop %(shop)s") % {"shop": self.shop_id}
