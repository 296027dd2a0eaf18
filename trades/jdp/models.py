"""What the JDP channel keeps in PostgreSQL: the ISV's RDS and each enrolled shop's state.

The cursors of the pushed tables are checkpoints (streams ``jdp_trades``, ``jdp_refunds``
and Tmall's ``jdp_tm_refunds``): their run lock, set-aside records and failures work as the
sync engine's.
"""

from __future__ import annotations

from django.db import models

from ordersync.crypto import EncryptedTextField
from shops.models import Checkpoint, Shop

JDP_STREAMS = (
    Checkpoint.Stream.JDP_TRADES,
    Checkpoint.Stream.JDP_REFUNDS,
    Checkpoint.Stream.JDP_TM_REFUNDS,
)


class JdpRds(models.Model):
    """One RDS the platform pushes into, by the name enrolment gives (``rds_name``)."""

    name = models.CharField(max_length=64, unique=True, help_text="the rds_name of enrolment")
    url = EncryptedTextField(
        blank=True,
        default="",
        help_text="mysql://user:password@host:port/database; empty: JDP_DATABASE_URL",
    )

    def __str__(self) -> str:
        return self.name


class JdpShop(models.Model):
    """A shop enrolled in JDP: where it is pushed, its status, freshness, lag, findings."""

    class Status(models.IntegerChoices):
        # taobao.jushita.jdp.users.get
        PAUSED = 0, "paused"
        NORMAL = 1, "normal"
        SESSION_INVALID = 2, "session invalid (push stopped)"
        DELETED = 3, "deleted"

    shop = models.OneToOneField(
        Shop, on_delete=models.CASCADE, primary_key=True, related_name="jdp"
    )
    rds = models.ForeignKey(JdpRds, on_delete=models.PROTECT, related_name="shops")
    history_days = models.PositiveSmallIntegerField(default=0)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    status = models.SmallIntegerField(choices=Status.choices, null=True, blank=True)
    status_checked_at = models.DateTimeField(null=True, blank=True)
    last_row_at = models.DateTimeField(null=True, blank=True, help_text="last batch written")
    freshness_seconds = models.FloatField(
        null=True, blank=True, help_text="platform modified → committed here, last change"
    )
    behind_seconds = models.FloatField(
        null=True, blank=True, help_text="newest jdp_modified in the RDS − the checkpoint"
    )
    rows_read = models.BigIntegerField(default=0)
    changes_written = models.BigIntegerField(default=0)
    late = models.BigIntegerField(
        default=0, help_text="changes JDP delivered more than JDP_LATE_SECONDS after they happened"
    )
    missed_by_polling = models.BigIntegerField(
        default=0, help_text="changes polling wrote first, older than JDP_LATE_SECONDS"
    )
    missed_by_reconcile = models.BigIntegerField(
        default=0, help_text="changes the reconcile wrote first, older than JDP_LATE_SECONDS"
    )

    def __str__(self) -> str:
        return f"JDP of shop {self.shop_id}"

    @property
    def live(self) -> bool:
        return self.status == self.Status.NORMAL


class ShopChannels(Shop):
    """The console's page of every shop's channels (no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "shop channels"
        verbose_name_plural = "shop channels"
