"""The tenant's change feed: one row per insert or update of a trade or refund."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now

from shops.models import Shop, Tenant


class Xid8Field(models.Field):
    """PostgreSQL's 64-bit, never-wrapping transaction id (``xid8``), seen from Python as int."""

    description = "PostgreSQL transaction id (xid8)"

    def db_type(self, connection) -> str:
        return "xid8"

    def from_db_value(self, value, expression, connection):
        return None if value is None else int(value)

    def to_python(self, value):
        return None if value is None else int(value)

    def get_prep_value(self, value):
        # xid8 has no cast from bigint, only from text
        return None if value is None else str(value)


class CurrentXactId(models.Func):
    """``pg_current_xact_id()``: the writing transaction's id (the top-level one in a savepoint)."""

    function = "pg_current_xact_id"
    template = "%(function)s()"
    output_field = Xid8Field()


class ChangeEvent(models.Model):
    """One change, in the order partners read it: ``(txid, id)``.

    ``txid`` is the id of the transaction that wrote the row. Rows are handed out only once
    every transaction with a smaller id has ended (see ``trades.feed``), which makes the feed
    gapless even though ids are assigned at insert and transactions commit in any order.
    """

    class Entity(models.TextChoices):
        TRADE = "trade"
        REFUND = "refund"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="change_events")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="change_events")
    entity = models.CharField(max_length=8, choices=Entity.choices)
    object_id = models.BigIntegerField(help_text="Trade.pk or Refund.pk")
    key = models.BigIntegerField(help_text="tid or refund_id")
    status = models.CharField(max_length=64)
    # NULL ("inserted") must stay distinct from an empty status
    previous_status = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, help_text="null when the row was inserted"
    )
    modified = models.DateTimeField(help_text="the platform's modified time of this version")
    created_at = models.DateTimeField(db_default=Now())
    txid = Xid8Field(db_default=CurrentXactId(), editable=False)

    class Meta:
        indexes = [
            # the partner API's change feed polls a tenant's rows after a (txid, id) cursor
            models.Index(fields=["tenant", "txid", "id"], name="changeevent_tenant_feed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.key} -> {self.status}"
