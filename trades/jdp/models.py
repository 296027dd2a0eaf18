"""What the JDP channel keeps in PostgreSQL: the ISV's RDS and each enrolled shop's state.

The cursors of the two pushed tables are checkpoints (streams ``jdp_trades`` and
``jdp_refunds``): their run lock, set-aside records and failures work as the sync engine's.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ordersync.crypto import EncryptedTextField
from shops.models import Shop


class JdpRds(models.Model):
    """One RDS the platform pushes into, by the name enrolment gives (``rds_name``)."""

    name = models.CharField(
        max_length=64, unique=True, help_text=_("the rds_name of enrolment"), verbose_name=_("name")
    )
    url = EncryptedTextField(
        blank=True,
        default="",
        help_text=_("mysql://user:password@host:port/database; empty: JDP_DATABASE_URL"),
        verbose_name=_("URL"),
    )

    class Meta:
        verbose_name = _("JDP RDS")
        verbose_name_plural = _("JDP RDS")

    def __str__(self) -> str:
        return self.name


class JdpShop(models.Model):
    """A shop enrolled in JDP: where it is pushed, its status, freshness, lag, findings."""

    class Status(models.IntegerChoices):
        # taobao.jushita.jdp.users.get
        PAUSED = 0, _("paused")
        NORMAL = 1, _("normal")
        SESSION_INVALID = 2, _("session invalid (push stopped)")
        DELETED = 3, _("deleted")

    shop = models.OneToOneField(
        Shop, on_delete=models.CASCADE, primary_key=True, related_name="jdp", verbose_name=_("shop")
    )
    rds = models.ForeignKey(
        JdpRds, on_delete=models.PROTECT, related_name="shops", verbose_name=_("rds")
    )
    history_days = models.PositiveSmallIntegerField(default=0, verbose_name=_("history days"))
    enrolled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("enrolled at"))
    status = models.SmallIntegerField(
        choices=Status.choices, null=True, blank=True, verbose_name=_("status")
    )
    status_checked_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("status checked at")
    )
    last_row_at = models.DateTimeField(
        null=True, blank=True, help_text=_("last batch written"), verbose_name=_("last row at")
    )
    freshness_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text=_("platform modified → committed here, last change"),
        verbose_name=_("freshness seconds"),
    )
    behind_seconds = models.FloatField(
        null=True,
        blank=True,
        help_text=_("newest jdp_modified in the RDS − the checkpoint"),
        verbose_name=_("behind seconds"),
    )
    rows_read = models.BigIntegerField(default=0, verbose_name=_("rows read"))
    changes_written = models.BigIntegerField(default=0, verbose_name=_("changes written"))
    late = models.BigIntegerField(
        default=0,
        help_text=_("changes JDP delivered more than JDP_LATE_SECONDS after they happened"),
        verbose_name=_("late"),
    )
    missed_by_polling = models.BigIntegerField(
        default=0,
        help_text=_("changes polling wrote first, older than JDP_LATE_SECONDS"),
        verbose_name=_("missed by polling"),
    )
    missed_by_reconcile = models.BigIntegerField(
        default=0,
        help_text=_("changes the reconcile wrote first, older than JDP_LATE_SECONDS"),
        verbose_name=_("missed by reconcile"),
    )

    class Meta:
        verbose_name = _("JDP shop")
        verbose_name_plural = _("JDP shops")

    def __str__(self) -> str:
        return gettext("JDP of shop %(shop)s") % {"shop": self.shop_id}

    @property
    def live(self) -> bool:
        return self.status == self.Status.NORMAL


class ShopChannels(Shop):
    """The console's page of every shop's channels (no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("shop channels")
        verbose_name_plural = _("shop channels")
