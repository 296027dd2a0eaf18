"""Parcels: one waybill of a consigned trade, its trace, and whether it is stalled now."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, Tenant
from trades.models import TenantQuerySet, Trade


class Parcel(models.Model):
    """One waybill (``out_sid``) of a trade; several for a split shipment.

    ``next_check_at`` is when the tracker reads its trace again; null once it is done
    (signed, offline-consigned, or its trade finished or closed). ``stalled_at`` is set
    while an alert is raised (``logistics.stalled``) and cleared with ``logistics.resumed``.
    """

    class Stall(models.TextChoices):
        NO_PICKUP = "no_pickup", _("not picked up")
        NO_MOVEMENT = "no_movement", _("no movement")

    class Done(models.TextChoices):
        SIGNED = "signed", _("signed")
        OFFLINE = "offline", _("offline-consigned")
        TRADE_ENDED = "trade_ended", _("trade finished or closed")

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="+", verbose_name=_("shop")
    )
    trade = models.ForeignKey(
        Trade, on_delete=models.CASCADE, related_name="parcels", verbose_name=_("trade")
    )
    tid = models.BigIntegerField(_("tid"))
    out_sid = models.CharField(_("waybill"), max_length=64)
    company_name = models.CharField(_("carrier"), max_length=64, blank=True, default="")
    sub_oids = ArrayField(
        models.BigIntegerField(),
        default=list,
        blank=True,
        verbose_name=_("sub-orders"),
        help_text=_("the sub-orders on this waybill, when the trade went out on several"),
    )
    status = models.CharField(_("status"), max_length=200, blank=True, default="")
    events = models.JSONField(
        _("trace events"), default=list, blank=True, help_text=_("[time, description, action]")
    )
    consigned_at = models.DateTimeField(_("consigned"))
    last_event_at = models.DateTimeField(_("last movement"), null=True, blank=True)
    picked_up = models.BooleanField(_("picked up"), default=False)
    trade_modified = models.DateTimeField(
        _("trade modified"), help_text=_("the trade version it was read from")
    )
    next_check_at = models.DateTimeField(_("next read"), null=True, blank=True)
    checks = models.PositiveIntegerField(_("reads"), default=0, help_text=_("trace reads so far"))
    done = models.CharField(_("done"), max_length=16, choices=Done.choices, blank=True, default="")
    stalled_at = models.DateTimeField(_("stalled since"), null=True, blank=True)
    stall = models.CharField(_("stall"), max_length=16, choices=Stall.choices, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        constraints = [
            models.UniqueConstraint(fields=["trade", "out_sid"], name="parcel_one_per_waybill"),
        ]
        indexes = [
            # the tracker reads each shop's parcels that are due
            models.Index(
                fields=["shop", "next_check_at"],
                condition=Q(next_check_at__isnull=False),
                name="parcel_due_idx",
            ),
            # the console's stalled parcels and the metric read the raised alerts only
            models.Index(
                fields=["tenant", "shop"],
                condition=Q(stalled_at__isnull=False),
                name="parcel_stalled_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company_name} {self.out_sid}"


class StalledParcelQuerySet(TenantQuerySet):
    pass


class StalledManager(models.Manager.from_queryset(StalledParcelQuerySet)):  # type: ignore[misc]
    def get_queryset(self) -> StalledParcelQuerySet:
        return super().get_queryset().filter(stalled_at__isnull=False)


class StalledParcel(Parcel):
    """The parcels with a raised alert: the console's "stalled parcels"."""

    objects = StalledManager()  # type: ignore[misc]

    class Meta:
        proxy = True
        verbose_name = _("stalled parcel")
        verbose_name_plural = _("stalled parcels")
