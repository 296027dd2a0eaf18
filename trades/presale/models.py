"""Presale reservations: the units open presale trades hold, per shop, SKU and stage.

Read from a view over the stored trades (migration 0017), not kept in a table of its own: the
number is always exactly what the stored trades say, with nothing to keep in step on each
write, to repair after a crash, or to lock on a hot SKU while many writers commit. The view
reads only the open presale trades through ``trade_open_presale_idx``; how long that takes as
they grow is a figure of ``manage.py bench presale`` (docs/benchmarks.md).
"""

from __future__ import annotations

from django.db import models

from shops.models import Shop, Tenant
from trades.models import TenantQuerySet


class PresaleReservation(models.Model):
    """One SKU of one shop: the units and trades of its open presale sub-orders in a stage."""

    class Stage(models.TextChoices):
        DEPOSIT_PAID = "deposit_paid", "deposit paid, final not yet: reserved"
        DEPOSIT_UNPAID = "deposit_unpaid", "ordered, deposit not yet paid: pending"

    id = models.CharField(primary_key=True, max_length=200, help_text="stage:shop:item:sku")
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, related_name="+")
    shop = models.ForeignKey(Shop, on_delete=models.DO_NOTHING, related_name="+")
    stage = models.CharField(max_length=16, choices=Stage.choices)
    num_iid = models.BigIntegerField(null=True)
    sku_id = models.CharField(max_length=64)
    outer_sku_id = models.CharField(max_length=64)
    units = models.BigIntegerField(help_text="units of the SKU these trades hold")
    trades = models.BigIntegerField(help_text="presale trades holding them")

    objects = TenantQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "trades_presalereservation"

    def __str__(self) -> str:
        return f"{self.units} × {self.sku_id or self.num_iid} ({self.stage})"
