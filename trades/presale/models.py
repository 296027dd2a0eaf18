"""Presale reservations: the units open presale trades hold, per shop, SKU and stage.

Read from a view over the stored trades (migration 0017), not kept in a table of its own: the
number is always exactly what the stored trades say, with nothing to keep in step on each
write, to repair after a crash, or to lock on a hot SKU while many writers commit. The view
reads only the open presale trades through ``trade_open_presale_idx``; how long that takes as
they grow is a figure of ``manage.py bench presale`` (docs/benchmarks.md).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, Tenant
from trades.models import TenantQuerySet


class PresaleReservation(models.Model):
    """One SKU of one shop: the units and trades of its open presale sub-orders in a stage."""

    class Stage(models.TextChoices):
        DEPOSIT_PAID = "deposit_paid", _("deposit paid, final not yet: reserved")
        DEPOSIT_UNPAID = "deposit_unpaid", _("ordered, deposit not yet paid: pending")

    id = models.CharField(
        primary_key=True, max_length=200, help_text=_("stage:shop:item:sku"), verbose_name=_("id")
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.DO_NOTHING, related_name="+", verbose_name=_("tenant")
    )
    shop = models.ForeignKey(
        Shop, on_delete=models.DO_NOTHING, related_name="+", verbose_name=_("shop")
    )
    stage = models.CharField(max_length=16, choices=Stage.choices, verbose_name=_("stage"))
    num_iid = models.BigIntegerField(null=True, verbose_name=_("num iid"))
    sku_id = models.CharField(max_length=64, verbose_name=_("SKU id"))
    outer_sku_id = models.CharField(max_length=64, verbose_name=_("outer SKU id"))
    units = models.BigIntegerField(
        help_text=_("units of the SKU these trades hold"), verbose_name=_("units")
    )
    trades = models.BigIntegerField(
        help_text=_("presale trades holding them"), verbose_name=_("trades")
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("presale reservation")
        verbose_name_plural = _("presale reservations")
        managed = False
        db_table = "trades_presalereservation"

    def __str__(self) -> str:
        return f"{self.units} × {self.sku_id or self.num_iid} ({self.get_stage_display()})"
