"""Trades, their sub-orders and refunds, as last seen on the platform."""

from __future__ import annotations

from django.db import models

from shops.models import Shop, Tenant

# The statuses the platform documents; the API's status filters accept these.
# Reference: docs/platform.md §5, taobao.trades.sold.get "status" and taobao.refunds.receive.get
TRADE_STATUSES = [
    "TRADE_NO_CREATE_PAY",
    "WAIT_BUYER_PAY",
    "PAY_PENDING",
    "WAIT_PRE_AUTH_CONFIRM",
    "WAIT_SELLER_SEND_GOODS",
    "SELLER_CONSIGNED_PART",
    "WAIT_BUYER_CONFIRM_GOODS",
    "TRADE_BUYER_SIGNED",
    "TRADE_FINISHED",
    "TRADE_CLOSED",
    "TRADE_CLOSED_BY_TAOBAO",
    "PAID_FORBID_CONSIGN",
]
REFUND_STATUSES = [
    "WAIT_SELLER_AGREE",
    "WAIT_BUYER_RETURN_GOODS",
    "WAIT_SELLER_CONFIRM_GOODS",
    "SELLER_REFUSE_BUYER",
    "CLOSED",
    "SUCCESS",
    # exchanges (the status filter of taobao.refunds.receive.get lists them too)
    "WAIT_BUYER_CONFIRM_EXCHANGE_SELLER_SEND_GOODS",
    "EXCHANGE_TRANSFORM_TO_REFUND",
    "WAIT_SELLER_CONSIGN_GOODS",
]


# Presale trades holding stock or about to: deposit paid (reserved) or not yet (pending), and
# not closed. Reference: docs/platform.md §5.1. ``trades/presale/reservations.py`` sums them.
OPEN_PRESALE = (
    models.Q(type="step")
    & models.Q(step_trade_status__in=["FRONT_NOPAID_FINAL_NOPAID", "FRONT_PAID_FINAL_NOPAID"])
    & ~models.Q(status__in=["TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"])
)


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant) -> TenantQuerySet:
        return self.filter(tenant=tenant)


def money() -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)


class Trade(models.Model):
    # No single-column indexes on the two keys: trade_tenant_*_idx and trade_one_per_shop_tid
    # lead with them, and every index more is one more write per stored trade (backfill).
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="trades", db_index=False
    )
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="trades", db_index=False)
    tid = models.BigIntegerField()
    status = models.CharField(max_length=64)
    type = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField()
    modified = models.DateTimeField()
    pay_time = models.DateTimeField(null=True, blank=True)
    consign_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    payment = money()
    total_fee = money()
    post_fee = money()
    buyer_open_uid = models.CharField(max_length=128, blank=True, default="")
    buyer_nick = models.CharField(max_length=128, blank=True, default="")
    receiver_state = models.CharField(max_length=64, blank=True, default="")
    receiver_city = models.CharField(max_length=64, blank=True, default="")
    receiver_district = models.CharField(max_length=64, blank=True, default="")
    step_trade_status = models.CharField(max_length=64, blank=True, default="")
    step_paid_fee = money()
    payload = models.JSONField(default=dict, help_text="the last full trade seen on the platform")
    first_synced_at = models.DateTimeField(auto_now_add=True)
    last_synced_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "tid"], name="trade_one_per_shop_tid"),
        ]
        indexes = [
            # partner API: a tenant's trades by modified / created, newest first, keyset paged
            models.Index(fields=["tenant", "-modified", "-id"], name="trade_tenant_modified_idx"),
            models.Index(fields=["tenant", "-created", "-id"], name="trade_tenant_created_idx"),
            # reconcile counts a shop's trades per created day; admin filters by shop
            models.Index(fields=["shop", "created"], name="trade_shop_created_idx"),
            # admin and API exact lookup by tid
            models.Index(fields=["tid"], name="trade_tid_idx"),
            # partner API and admin: a tenant's trades of one status, newest first (a WMS polls
            # WAIT_SELLER_SEND_GOODS); without it the filter reads every trade of the tenant
            models.Index(
                fields=["tenant", "status", "-modified", "-id"], name="trade_tenant_status_idx"
            ),
            # partner API: one buyer's trades (customer service looks a buyer up)
            models.Index(
                fields=["tenant", "buyer_open_uid"],
                condition=~models.Q(buyer_open_uid=""),
                name="trade_tenant_buyer_idx",
            ),
            # presale reservations (the API, the console, /metrics) read the open presale
            # trades only: the same condition as their view's, so the planner proves it
            models.Index(
                fields=["tenant", "shop"], condition=OPEN_PRESALE, name="trade_open_presale_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"trade {self.tid} ({self.status})"


class TradeLine(models.Model):
    """A sub-order (``orders.order[]``); single-item trades have ``oid == tid``."""

    # indexed by tradeline_one_per_oid (trade_id, oid)
    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="lines", db_index=False)
    oid = models.BigIntegerField()
    status = models.CharField(max_length=64, blank=True, default="")
    refund_status = models.CharField(max_length=64, blank=True, default="")
    num_iid = models.BigIntegerField(null=True, blank=True)
    sku_id = models.CharField(max_length=64, blank=True, default="")
    outer_sku_id = models.CharField(
        max_length=64, blank=True, default="", help_text="the seller's own SKU code"
    )
    title = models.CharField(max_length=300, blank=True, default="")
    price = money()
    num = models.IntegerField(null=True, blank=True)
    payment = money()
    divide_order_fee = money()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trade", "oid"], name="tradeline_one_per_oid"),
        ]

    def __str__(self) -> str:
        return f"order {self.oid} of {self.trade_id}"


class Refund(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="refunds")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="refunds")
    refund_id = models.BigIntegerField()
    tid = models.BigIntegerField()
    oid = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=64)
    refund_fee = money()
    created = models.DateTimeField()
    modified = models.DateTimeField()
    payload = models.JSONField(default=dict)
    first_synced_at = models.DateTimeField(auto_now_add=True)
    last_synced_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "refund_id"], name="refund_one_per_shop"),
        ]
        indexes = [
            # partner API: a tenant's refunds newest first, keyset paged
            models.Index(fields=["tenant", "-modified", "-id"], name="refund_tenant_modified_idx"),
            # a trade's refunds, shown with the trade
            models.Index(fields=["shop", "tid"], name="refund_shop_tid_idx"),
            # the reconcile counts a shop's refunds per modified day
            models.Index(fields=["shop", "modified"], name="refund_shop_modified_idx"),
            # partner API and admin: a tenant's refunds of one status, newest first
            models.Index(
                fields=["tenant", "status", "-modified", "-id"], name="refund_tenant_status_idx"
            ),
            # admin search: the number typed is a refund id or a tid
            models.Index(fields=["refund_id"], name="refund_refund_id_idx"),
            models.Index(fields=["tid"], name="refund_tid_idx"),
        ]

    def __str__(self) -> str:
        return f"refund {self.refund_id} of trade {self.tid} ({self.status})"


class ReconcileReport(models.Model):
    """One shop's platform day checked against ours: what was missing or stale, and fixed."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="reconcile_reports")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="reconcile_reports")
    day = models.DateField(
        help_text="platform (Asia/Shanghai) day: of trade creation, of refund modification"
    )
    platform_count = models.PositiveIntegerField()
    local_count = models.PositiveIntegerField()
    missing_found = models.PositiveIntegerField(default=0)
    stale_fixed = models.PositiveIntegerField(default=0)
    refunds_platform_count = models.PositiveIntegerField(
        default=0, help_text="refunds the platform lists as modified that day"
    )
    refunds_local_count = models.PositiveIntegerField(
        default=0, help_text="our refunds last modified that day"
    )
    refunds_missing_found = models.PositiveIntegerField(default=0)
    refunds_stale_fixed = models.PositiveIntegerField(default=0)
    unresolved = models.PositiveIntegerField(
        default=0,
        help_text="set-aside records of the shop the platform did not return (in the details)",
    )
    api_calls = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(default=0)
    details = models.JSONField(default=dict, blank=True, help_text="tids found missing or stale")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [
            # console and API: a shop's reports, newest day first
            models.Index(fields=["shop", "-day"], name="reconcile_shop_day_idx"),
            models.Index(fields=["tenant", "-created_at"], name="reconcile_tenant_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"reconcile {self.shop} {self.day}: {self.missing_found} missing"


# Kept in modules of their own; imported here so Django registers them with the app.
from trades.api.key_models import ApiKey  # noqa: E402, F401
from trades.api.models import IdempotencyKey, Job  # noqa: E402, F401
from trades.feed.models import ChangeEvent  # noqa: E402, F401
from trades.jdp.models import JdpRds, JdpShop, ShopChannels  # noqa: E402, F401
from trades.presale.models import PresaleReservation  # noqa: E402, F401
from trades.tmc.models import TmcShop, TmcStat  # noqa: E402, F401
from trades.webhooks.models import (  # noqa: E402, F401
    WebhookAttempt,
    WebhookCounter,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSecret,
)
