"""Items and SKU stock of a shop, as the platform's item APIs show them (read-only: ordersync
never writes stock back)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, Tenant
from trades.models import TenantQuerySet, money


class Item(models.Model):
    """One item (商品) of a shop: on sale, or in the warehouse (sold out, delisted)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="items")
    num_iid = models.BigIntegerField()
    title = models.CharField(_("title"), max_length=300, blank=True, default="")
    outer_id = models.CharField(_("outer id"), max_length=64, blank=True, default="")
    approve_status = models.CharField(_("status"), max_length=16, help_text="onsale or instock")
    num = models.IntegerField(_("quantity"), default=0, help_text=_("units of all its SKUs"))
    modified = models.DateTimeField()
    payload = models.JSONField(default=dict)
    last_synced_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("item")
        constraints = [
            models.UniqueConstraint(fields=["shop", "num_iid"], name="item_one_per_num_iid")
        ]

    def __str__(self) -> str:
        return f"item {self.num_iid} ({self.approve_status})"


class ItemSku(models.Model):
    """One SKU of an item and the units the shop has of it (``quantity``)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="skus")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    sku_id = models.CharField(max_length=64)
    outer_id = models.CharField(_("outer id"), max_length=64, blank=True, default="")
    properties_name = models.CharField(max_length=300, blank=True, default="")
    price = money(_("price"))
    quantity = models.IntegerField(_("on hand"), default=0)

    class Meta:
        verbose_name = _("SKU")
        constraints = [
            models.UniqueConstraint(fields=["item", "sku_id"], name="itemsku_one_per_sku")
        ]
        # replenishment reads a shop's SKUs by id
        indexes = [models.Index(fields=["shop", "sku_id"], name="itemsku_shop_sku_idx")]

    def __str__(self) -> str:
        return f"sku {self.sku_id}: {self.quantity}"
