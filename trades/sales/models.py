"""Units sold per shop, SKU and day, kept current by the write path (``counting.py``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, Tenant
from trades.models import TenantQuerySet


class SkuDailySales(models.Model):
    """Paid units of one SKU of one shop on one GMT+8 day, refunded and closed units out."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    sku_id = models.CharField(max_length=64)
    num_iid = models.BigIntegerField(null=True, blank=True)
    day = models.DateField(_("day"))
    units = models.IntegerField(_("units sold"), default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("SKU sales per day")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "sku_id", "day"], name="skudailysales_one_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sku_id} {self.day}: {self.units}"
