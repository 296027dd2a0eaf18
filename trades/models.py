"""Trades, their sub-orders and refunds, as last seen on the platform."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, Tenant

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

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


def money(verbose_name: StrOrPromise) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=2, null=True, blank=True)


class Trade(models.Model):
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="trades", verbose_name=_("tenant")
    )
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="trades", verbose_name=_("shop")
    )
    tid = models.BigIntegerField(verbose_name=_("tid"))
    status = models.CharField(max_length=64, verbose_name=_("status"))
    type = models.CharField(max_length=64, blank=True, default="", verbose_name=_("type"))
    created = models.DateTimeField(verbose_name=_("created"))
    modified = models.DateTimeField(verbose_name=_("modified"))
    pay_time = models.DateTimeField(null=True, blank=True, verbose_name=_("pay time"))
    consign_time = models.DateTimeField(null=True, blank=True, verbose_name=_("consign time"))
    end_time = models.DateTimeField(null=True, blank=True, verbose_name=_("end time"))
    payment = money(_("payment"))
    total_fee = money(_("total fee"))
    post_fee = money(_("post fee"))
    buyer_open_uid = models.CharField(
        max_length=128, blank=True, default="", verbose_name=_("buyer open uid")
    )
    buyer_nick = models.CharField(
        max_length=128, blank=True, default="", verbose_name=_("buyer nick")
    )
    receiver_state = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("receiver state")
    )
    receiver_city = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("receiver city")
    )
    receiver_district = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("receiver district")
    )
    step_trade_status = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("step trade status")
    )
    step_paid_fee = money(_("step paid fee"))
    payload = models.JSONField(
        default=dict,
        help_text=_("the last full trade seen on the platform"),
        verbose_name=_("payload"),
    )
    first_synced_at = models.DateTimeField(auto_now_add=True, verbose_name=_("first synced at"))
    last_synced_at = models.DateTimeField(auto_now=True, verbose_name=_("last synced at"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("trade")
        verbose_name_plural = _("trades")
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
        return gettext("trade %(tid)s (%(status)s)") % {"tid": self.tid, "status": self.status}


class TradeLine(models.Model):
    """A sub-order (``orders.order[]``); single-item trades have ``oid == tid``."""

    trade = models.ForeignKey(
        Trade, on_delete=models.CASCADE, related_name="lines", verbose_name=_("trade")
    )
    oid = models.BigIntegerField(verbose_name=_("oid"))
    status = models.CharField(max_length=64, blank=True, default="", verbose_name=_("status"))
    refund_status = models.CharField(
        max_length=64, blank=True, default="", verbose_name=_("refund status")
    )
    num_iid = models.BigIntegerField(null=True, blank=True, verbose_name=_("num iid"))
    sku_id = models.CharField(max_length=64, blank=True, default="", verbose_name=_("SKU id"))
    outer_sku_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text=_("the seller's own SKU code"),
        verbose_name=_("outer SKU id"),
    )
    title = models.CharField(max_length=300, blank=True, default="", verbose_name=_("title"))
    price = money(_("price"))
    num = models.IntegerField(null=True, blank=True, verbose_name=_("num"))
    payment = money(_("payment"))
    divide_order_fee = money(_("divide order fee"))

    class Meta:
        verbose_name = _("trade line")
        verbose_name_plural = _("trade lines")
        constraints = [
            models.UniqueConstraint(fields=["trade", "oid"], name="tradeline_one_per_oid"),
        ]

    def __str__(self) -> str:
        return gettext("sub-order %(oid)s of %(trade)s") % {"oid": self.oid, "trade": self.trade_id}


class Refund(models.Model):
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="refunds", verbose_name=_("tenant")
    )
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="refunds", verbose_name=_("shop")
    )
    refund_id = models.BigIntegerField(verbose_name=_("refund id"))
    tid = models.BigIntegerField(verbose_name=_("tid"))
    oid = models.BigIntegerField(null=True, blank=True, verbose_name=_("oid"))
    status = models.CharField(max_length=64, verbose_name=_("status"))
    refund_fee = money(_("refund fee"))
    created = models.DateTimeField(verbose_name=_("created"))
    modified = models.DateTimeField(verbose_name=_("modified"))
    payload = models.JSONField(default=dict, verbose_name=_("payload"))
    first_synced_at = models.DateTimeField(auto_now_add=True, verbose_name=_("first synced at"))
    last_synced_at = models.DateTimeField(auto_now=True, verbose_name=_("last synced at"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
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
        return gettext("refund %(id)s of trade %(tid)s (%(status)s)") % {
            "id": self.refund_id,
            "tid": self.tid,
            "status": self.status,
        }


class ReconcileReport(models.Model):
    """One shop's platform day checked against ours: what was missing or stale, and fixed."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="reconcile_reports", verbose_name=_("tenant")
    )
    shop = models.ForeignKey(
        Shop, on_delete=models.CASCADE, related_name="reconcile_reports", verbose_name=_("shop")
    )
    day = models.DateField(
        help_text=_("platform (Asia/Shanghai) day: of trade creation, of refund modification"),
        verbose_name=_("day"),
    )
    platform_count = models.PositiveIntegerField(verbose_name=_("platform count"))
    local_count = models.PositiveIntegerField(verbose_name=_("local count"))
    missing_found = models.PositiveIntegerField(default=0, verbose_name=_("missing found"))
    stale_fixed = models.PositiveIntegerField(default=0, verbose_name=_("stale fixed"))
    refunds_platform_count = models.PositiveIntegerField(
        default=0,
        help_text=_("refunds the platform lists as modified that day"),
        verbose_name=_("refunds platform count"),
    )
    refunds_local_count = models.PositiveIntegerField(
        default=0,
        help_text=_("our refunds last modified that day"),
        verbose_name=_("refunds local count"),
    )
    refunds_missing_found = models.PositiveIntegerField(
        default=0, verbose_name=_("refunds missing found")
    )
    refunds_stale_fixed = models.PositiveIntegerField(
        default=0, verbose_name=_("refunds stale fixed")
    )
    unresolved = models.PositiveIntegerField(
        default=0,
        help_text=_("set-aside records of the shop the platform did not return (in the details)"),
        verbose_name=_("unresolved"),
    )
    api_calls = models.PositiveIntegerField(default=0, verbose_name=_("API calls"))
    duration_seconds = models.FloatField(default=0, verbose_name=_("duration seconds"))
    details = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("tids found missing or stale"),
        verbose_name=_("details"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("reconcile report")
        verbose_name_plural = _("reconcile reports")
        indexes = [
            # console and API: a shop's reports, newest day first
            models.Index(fields=["shop", "-day"], name="reconcile_shop_day_idx"),
            models.Index(fields=["tenant", "-created_at"], name="reconcile_tenant_recent_idx"),
        ]

    def __str__(self) -> str:
        return gettext("reconcile %(shop)s %(day)s: %(count)s missing") % {
            "shop": self.shop,
            "day": self.day,
            "count": self.missing_found,
        }


# Kept in modules of their own; imported here so Django registers them with the app.
from trades.api.key_models import ApiKey  # noqa: E402, F401
from trades.api.models import IdempotencyKey, Job  # noqa: E402, F401
from trades.feed.models import ChangeEvent  # noqa: E402, F401
from trades.jdp.models import JdpRds, JdpShop, ShopChannels  # noqa: E402, F401
from trades.logistics.models import Parcel, StalledParcel  # noqa: E402, F401
from trades.presale.models import PresaleReservation  # noqa: E402, F401
from trades.retention.models import RetentionRun  # noqa: E402, F401
from trades.tmc.models import TmcShop, TmcStat  # noqa: E402, F401
from trades.webhooks.models import (  # noqa: E402, F401
    WebhookAttempt,
    WebhookCounter,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSecret,
)
