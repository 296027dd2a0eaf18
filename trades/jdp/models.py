"""What the JDP channel keeps in PostgreSQL: the ISV's RDS and each enrolled shop's state.

The cursors of the pushed tables are checkpoints (streams ``jdp_trades``, ``jdp_refunds``
and Tmall's ``jdp_tm_refunds``): their run lock, set-aside records and failures work as the
sync engine's.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ordersync.crypto import EncryptedTextField
from shops.models import Checkpoint, Shop

JDP_STREAMS = (
    Checkpoint.Stream.JDP_TRADES,
    Checkpoint.Stream.JDP_REFUNDS,
    Checkpoint.Stream.JDP_TM_REFUNDS,
)


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
        help_text=_(
            "changes JDP delivered first, stamped (jdp_modified) more than JDP_LATE_SECONDS"
            " after their modified"
        ),
        verbose_name=_("late"),
    )

    class Meta:
        verbose_name = _("JDP shop")
        verbose_name_plural = _("JDP shops")

    def __str__(self) -> str:
        return gettext("JDP of shop %(shop)s") % {"shop": self.shop_id}

    @property
    def live(self) -> bool:
        return self.status == self.Status.NORMAL

    def since_enrolment(self, modified: datetime | None) -> bool:
        """Whether a version of ``modified`` (whole seconds) was made since the enrolment:
        older ones are the history push's, late by nature."""
        if modified is None or self.enrolled_at is None:
            return modified is not None
        return modified >= self.enrolled_at.replace(microsecond=0)


class JdpFinding(models.Model):
    """A version polling or the reconcile stored first while JDP was live for the shop, and
    what the push did with it, judged by platform times: delivered (``jdp_modified``) within
    ``JDP_LATE_SECONDS`` of its ``modified`` (in time), later (late), or not by the time
    the consumer had read the push that far (missed)."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("awaiting JDP")
        IN_TIME = "in_time", _("JDP delivered it in time")
        LATE = "late", _("JDP delivered it late")
        MISSED = "missed", _("JDP missed it")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="jdp_findings")
    entity = models.CharField(_("entity"), max_length=8)  # "trade" or "refund"
    key = models.BigIntegerField(_("key"), help_text=_("tid or refund_id"))
    modified = models.DateTimeField(_("modified"), help_text=_("the version's platform time"))
    channel = models.CharField(_("found by"), max_length=16)  # "polling" or "reconcile"
    outcome = models.CharField(
        _("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.PENDING
    )
    delivered = models.DateTimeField(
        _("delivered"), null=True, blank=True, help_text=_("jdp_modified of JDP's delivery")
    )
    found_at = models.DateTimeField(_("found at"), auto_now_add=True)

    class Meta:
        verbose_name = _("JDP finding")
        verbose_name_plural = _("JDP findings")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "entity", "key", "modified"], name="jdpfinding_one_per_version"
            )
        ]
        indexes = [
            # the consumer looks up each batch's keys; the sweep takes a shop's pending ones
            models.Index(fields=["shop", "entity", "key"], name="jdpfinding_key_idx"),
            models.Index(fields=["shop", "outcome", "modified"], name="jdpfinding_outcome_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.key} at {self.modified}: {self.outcome}"


class ShopChannels(Shop):
    """The console's page of every shop's channels (no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("shop channels")
        verbose_name_plural = _("shop channels")
