"""The tenant's change feed: one row per insert or update of a trade or refund."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Value
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, Tenant


class Xid8Field(models.Field):
    """PostgreSQL's 64-bit, never-wrapping transaction id (``xid8``), seen from Python as int."""

    description = "PostgreSQL transaction id (xid8)"

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "xid8"

    def from_db_value(
        self, value: int | str | None, expression: object, connection: BaseDatabaseWrapper
    ) -> int | None:
        return None if value is None else int(value)

    def to_python(self, value: int | str | None) -> int | None:
        return None if value is None else int(value)

    def get_prep_value(self, value: int | str | None) -> str | None:
        # xid8 has no cast from bigint, only from text
        return None if value is None else str(value)


class CurrentXactId(models.Func):
    """``pg_current_xact_id()``: the writing transaction's id (the top-level one in a savepoint)."""

    function = "pg_current_xact_id"
    template = "%(function)s()"
    output_field = Xid8Field(verbose_name=_("output field"))


class ChangeEvent(models.Model):
    """One change. Partners read them in the order of their transactions' commits.

    ``txid`` is the id of the transaction that wrote the row; the transaction's place in the
    feed is its :class:`FeedCommit`, taken as it commits (see ``trades.feed.changes``).
    """

    class Entity(models.TextChoices):
        TRADE = "trade", _("trade")
        REFUND = "refund", _("refund")
        PARCEL = "parcel", _("parcel")

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="change_events", verbose_name=_("tenant")
    )
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="change_events", verbose_name=_("shop")
    )
    entity = models.CharField(max_length=8, choices=Entity.choices, verbose_name=_("entity"))
    object_id = models.BigIntegerField(
        help_text=_("Trade.pk, Refund.pk or Parcel.pk"), verbose_name=_("object id")
    )
    key = models.BigIntegerField(
        help_text=_("tid (of a trade or a parcel's trade) or refund_id"), verbose_name=_("key")
    )
    status = models.CharField(max_length=64, verbose_name=_("status"))
    # NULL ("inserted") must stay distinct from an empty status
    previous_status = models.CharField(  # noqa: DJ001
        max_length=64,
        null=True,
        blank=True,
        help_text=_("null when the row was inserted"),
        verbose_name=_("previous status"),
    )
    modified = models.DateTimeField(
        help_text=_("the platform's modified time of this version"), verbose_name=_("modified")
    )
    signals = ArrayField(
        models.CharField(max_length=32),
        default=list,
        db_default=Value([], output_field=ArrayField(models.CharField(max_length=32))),
        blank=True,
        help_text=_("events this change carries beside its own (presale stages, parcel stalls)"),
        verbose_name=_("signals"),
    )
    created_at = models.DateTimeField(db_default=Now(), verbose_name=_("created at"))
    txid = Xid8Field(db_default=CurrentXactId(), editable=False, verbose_name=_("txid"))

    class Meta:
        verbose_name = _("change event")
        verbose_name_plural = _("change events")
        indexes = [
            # the change feed joins a tenant's commits to their rows by txid, in id order
            models.Index(fields=["tenant", "txid", "id"], name="changeevent_tenant_feed_idx"),
            # the console's trade page lists one trade's versions (its status history)
            models.Index(fields=["shop", "key", "id"], name="changeevent_shop_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.key} -> {self.status}"


class FeedCommit(models.Model):
    """The feed position (``id``) of one transaction that wrote a tenant's changes.

    Rows are inserted only by the ``changeevent_feed_commit`` trigger (migration 0007), which
    runs as the writing transaction commits and holds the tenant's feed lock until the commit
    has ended: a tenant's positions are therefore handed out in commit order, and a position
    is visible only after every smaller one of the tenant has committed or rolled back.
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    txid = Xid8Field(editable=False, verbose_name=_("txid"))

    class Meta:
        verbose_name = _("feed commit")
        verbose_name_plural = _("feed commits")
        constraints = [
            # one position per transaction; the feed joins commits to their rows by txid
            models.UniqueConstraint(fields=["tenant", "txid"], name="feedcommit_tenant_txid_uniq"),
        ]
        indexes = [
            # the partner API's change feed reads a tenant's commits after a position
            models.Index(fields=["tenant", "id"], name="feedcommit_tenant_position_idx"),
        ]

    def __str__(self) -> str:
        return f"position {self.pk} (transaction {self.txid})"
