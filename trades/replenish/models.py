"""Replenishment: each shop's settings and its purchase suggestions."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, Tenant
from trades.models import TenantQuerySet


class ReplenishSettings(models.Model):
    """How a shop buys: how long a delivery takes, how often it orders, how sure it wants to
    be not to run out, and its promotion days."""

    shop = models.OneToOneField(
        Shop,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="replenish_settings",
        verbose_name=_("shop"),
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    lead_time_days = models.PositiveSmallIntegerField(
        _("lead time (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text=_("days from ordering to the goods being sellable"),
    )
    review_days = models.PositiveSmallIntegerField(
        _("review period (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("days until the next purchase order is placed"),
    )
    service_level = models.DecimalField(
        _("service level"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.950"),
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(Decimal("0.999"))],
        help_text=_("the chance of not running out before the next delivery (0.5–0.999)"),
    )
    promotion_days = models.JSONField(
        _("promotion days"),
        default=list,
        blank=True,
        help_text=_("the shop's promotion days, past and planned: a list of YYYY-MM-DD"),
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("replenishment settings")
        verbose_name_plural = _("replenishment settings")

    def __str__(self) -> str:
        return f"{self.shop}: {self.lead_time_days}+{self.review_days} days, {self.service_level}"


class Suggestion(models.Model):
    """A purchase suggestion for one SKU of one shop (recomputed daily and on demand; every
    number is explained in docs/replenishment.md)."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="+", verbose_name=_("shop")
    )
    sku_id = models.CharField(_("SKU"), max_length=64)
    num_iid = models.BigIntegerField(_("num iid"), null=True, blank=True)
    outer_id = models.CharField(_("outer id"), max_length=64, blank=True, default="")
    title = models.CharField(_("title"), max_length=300, blank=True, default="")
    on_hand = models.IntegerField(_("on hand"))
    reserved = models.IntegerField(_("reserved by presale"))
    available = models.IntegerField(_("available"))
    forecast_7d = models.DecimalField(_("forecast, 7 days"), max_digits=12, decimal_places=1)
    cover_days = models.PositiveSmallIntegerField(_("lead time + review (days)"))
    demand = models.DecimalField(
        _("forecast over lead time + review"), max_digits=12, decimal_places=1
    )
    band = models.DecimalField(_("± (80%)"), max_digits=12, decimal_places=1)
    safety_stock = models.DecimalField(_("safety stock"), max_digits=12, decimal_places=1)
    days_of_cover = models.DecimalField(
        _("days of cover"), max_digits=8, decimal_places=1, null=True, blank=True
    )
    runs_out_in_days = models.IntegerField(_("runs out in (days)"), null=True, blank=True)
    suggested_qty = models.IntegerField(_("suggested quantity"))
    computed_at = models.DateTimeField(_("computed at"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("purchase suggestion")
        constraints = [
            models.UniqueConstraint(fields=["shop", "sku_id"], name="suggestion_one_per_sku")
        ]
        # the API pages a tenant's suggestions by id
        indexes = [models.Index(fields=["tenant", "id"], name="suggestion_tenant_idx")]

    def __str__(self) -> str:
        return f"{self.sku_id}: order {self.suggested_qty}"
