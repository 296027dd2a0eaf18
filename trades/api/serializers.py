"""What partners see of each object. Read-only: writes happen through actions."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shops.models import Checkpoint, Shop, SyncRun
from shops.refetch import MAX_TIDS, BadRefetch, refetch_params
from trades.api.filters import EnumField
from trades.api.key_models import ApiKey
from trades.api.models import Job
from trades.feed.changes import ENTITY_CHOICES
from trades.feed.models import ChangeEvent
from trades.models import ReconcileReport, Refund, Trade, TradeLine
from trades.presale.models import PresaleReservation


def string_id(source: str) -> serializers.CharField:
    """``<id>_str``: the id as a string, exact where JSON numbers are doubles (JavaScript)."""
    return serializers.CharField(
        source=source,
        read_only=True,
        allow_null=True,
        help_text=format_lazy(
            gettext_lazy(
                "`{source}` as a decimal string: JavaScript's JSON.parse rounds 19-digit "
                "numbers, so Node and browser clients read this one."
            ),
            source=source,
        ),
    )


class TradeLineSerializer(serializers.ModelSerializer):
    oid_str = string_id("oid")

    class Meta:
        model = TradeLine
        fields = [
            "oid",
            "oid_str",
            "status",
            "refund_status",
            "num_iid",
            "sku_id",
            "title",
            "price",
            "num",
            "payment",
            "divide_order_fee",
        ]


TRADE_FIELDS = [
    "tid",
    "tid_str",
    "shop",
    "status",
    "type",
    "created",
    "modified",
    "pay_time",
    "consign_time",
    "end_time",
    "payment",
    "total_fee",
    "post_fee",
    "buyer_open_uid",
    "buyer_nick",
    "receiver_state",
    "receiver_city",
    "receiver_district",
    "step_trade_status",
    "step_paid_fee",
    "first_synced_at",
    "last_synced_at",
]


class TradeSerializer(serializers.ModelSerializer):
    tid_str = string_id("tid")
    lines = TradeLineSerializer(
        many=True, read_only=True, help_text=gettext_lazy("The sub-orders.")
    )

    class Meta:
        model = Trade
        fields = [*TRADE_FIELDS, "lines"]


REFUND_FIELDS = [
    "refund_id",
    "refund_id_str",
    "shop",
    "tid",
    "tid_str",
    "oid",
    "oid_str",
    "status",
    "refund_fee",
    "created",
    "modified",
    "first_synced_at",
    "last_synced_at",
]


class RefundIds(serializers.Serializer):
    refund_id_str = string_id("refund_id")
    tid_str = string_id("tid")
    oid_str = string_id("oid")


class RefundSerializer(RefundIds, serializers.ModelSerializer):
    class Meta:
        model = Refund
        fields = REFUND_FIELDS


class RefundDetailSerializer(RefundIds, serializers.ModelSerializer):
    payload = serializers.JSONField(
        help_text=gettext_lazy("The refund as last seen on the platform.")
    )

    class Meta:
        model = Refund
        fields = [*REFUND_FIELDS, "payload"]


class TradeDetailSerializer(TradeSerializer):
    refunds = serializers.SerializerMethodField(help_text=gettext_lazy("Refunds of this trade."))
    payload = serializers.JSONField(
        help_text=gettext_lazy("The full trade as last seen on the platform.")
    )

    class Meta:
        model = Trade
        fields = [*TRADE_FIELDS, "lines", "refunds", "payload"]

    @extend_schema_field(RefundSerializer(many=True))
    def get_refunds(self, trade: Trade) -> list[dict]:
        return RefundSerializer(trade.refund_list, many=True).data


class CheckpointSerializer(serializers.ModelSerializer):
    lag_seconds = serializers.SerializerMethodField(
        help_text=gettext_lazy("Seconds between the cursor and now; null before the first window.")
    )

    class Meta:
        model = Checkpoint
        fields = [
            "stream",
            "cursor",
            "lag_seconds",
            "last_success_at",
            "consecutive_failures",
            "last_error",
            "next_run_at",
        ]

    def get_lag_seconds(self, checkpoint: Checkpoint) -> int | None:
        if checkpoint.cursor is None:
            return None
        return max(0, int((timezone.now() - checkpoint.cursor).total_seconds()))


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "shop",
            "stream",
            "kind",
            "outcome",
            "window_start",
            "window_end",
            "started_at",
            "finished_at",
            "api_calls",
            "pages",
            "trades_seen",
            "trades_written",
            "error_class",
            "error_message",
        ]


class ShopSerializer(serializers.ModelSerializer):
    checkpoints = CheckpointSerializer(many=True, read_only=True)
    last_run = serializers.SerializerMethodField(
        help_text=gettext_lazy("The latest sync run, if any.")
    )
    failed_runs_24h = serializers.IntegerField(
        read_only=True, help_text=gettext_lazy("Failed sync runs in the last 24 hours.")
    )

    class Meta:
        model = Shop
        fields = [
            "id",
            "platform",
            "seller_nick",
            "seller_id",
            "status",
            "status_reason",
            "degraded",
            "interval_mode",
            "interval_minutes",
            "created",
            "checkpoints",
            "last_run",
            "failed_runs_24h",
        ]

    @extend_schema_field(SyncRunSerializer(allow_null=True))
    def get_last_run(self, shop: Shop) -> dict | None:
        runs = shop.latest_runs
        return SyncRunSerializer(runs[0]).data if runs else None


class PresaleReservationSerializer(serializers.ModelSerializer):
    num_iid_str = string_id("num_iid")

    class Meta:
        model = PresaleReservation
        fields = [
            "id",
            "shop",
            "stage",
            "num_iid",
            "num_iid_str",
            "sku_id",
            "outer_sku_id",
            "units",
            "trades",
        ]
        extra_kwargs = {
            "id": {"help_text": gettext_lazy("Unique per row: stage, shop, item and SKU.")},
            "stage": {
                "help_text": gettext_lazy(
                    "`deposit_paid`: reserved, the final payment is due; "
                    "`deposit_unpaid`: ordered, the deposit is due."
                )
            },
            "units": {
                "help_text": gettext_lazy("Units of this SKU the trades hold (sub-order `num`).")
            },
            "trades": {"help_text": gettext_lazy("Presale trades holding them.")},
        }


class ReconcileReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReconcileReport
        fields = [
            "id",
            "shop",
            "day",
            "platform_count",
            "local_count",
            "missing_found",
            "stale_fixed",
            "refunds_platform_count",
            "refunds_local_count",
            "refunds_missing_found",
            "refunds_stale_fixed",
            "unresolved",
            "api_calls",
            "duration_seconds",
            "details",
            "created_at",
        ]


class JobRequestSerializer(serializers.Serializer):
    kind = EnumField(choices=["sync", "backfill", "reconcile", "refetch"])
    tids = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        help_text=format_lazy(
            gettext_lazy(
                "refetch: up to {n} trade ids (numbers or decimal strings), each "
                "fetched with trade.fullinfo.get and written."
            ),
            n=MAX_TIDS,
        ),
    )
    modified_after = serializers.CharField(
        required=False,
        help_text=gettext_lazy(
            "refetch: start of a window of modified time (ISO 8601; without an offset, "
            "platform time, Asia/Shanghai) re-read from the platform's lists. At most one day "
            "wide, within the last 90 days."
        ),
    )
    modified_before = serializers.CharField(
        required=False, help_text=gettext_lazy("refetch: end of the window (after modified_after).")
    )

    def validate(self, data: dict) -> dict:
        """A refetch gets its ``params``; other kinds take no arguments."""
        extra = {k: data[k] for k in ("tids", "modified_after", "modified_before") if k in data}
        if data["kind"] != "refetch":
            if extra:
                raise serializers.ValidationError(
                    _("%(fields)s: only for kind refetch") % {"fields": ", ".join(extra)}
                )
            return data
        try:
            data["params"] = refetch_params(**extra)
        except BadRefetch as error:
            raise serializers.ValidationError(str(error)) from None
        return data


class JobQueuedSerializer(serializers.Serializer):
    shop = serializers.IntegerField()
    kind = serializers.CharField()
    task_id = serializers.CharField()
    job = serializers.IntegerField(help_text=gettext_lazy("The job's id."))
    url = serializers.CharField(
        help_text=gettext_lazy("The job's path (also in Location): GET its state.")
    )


class JobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text=gettext_lazy("This job's path."))

    class Meta:
        model = Job
        fields = [
            "id",
            "url",
            "shop",
            "kind",
            "state",
            "task_id",
            "requested_at",
            "started_at",
            "finished_at",
            "error",
            "params",
            "outcome",
        ]
        extra_kwargs = {
            "state": {
                "help_text": gettext_lazy("queued (waiting or running), succeeded or failed.")
            },
            "error": {"help_text": gettext_lazy("Why the last attempt failed; empty otherwise.")},
            "params": {
                "help_text": gettext_lazy("What a refetch was asked for: tids, or the window.")
            },
            "outcome": {
                "help_text": gettext_lazy(
                    "What a refetch did, once done: run (its sync run), fetched, "
                    "written, not_found and failed (tids; *_str as strings)."
                )
            },
        }

    def get_url(self, job: Job) -> str:
        return reverse("job-detail", kwargs={"pk": job.pk})


class ChangeSerializer(serializers.ModelSerializer):
    entity = serializers.ChoiceField(choices=ENTITY_CHOICES, read_only=True)
    key_str = string_id("key")

    class Meta:
        model = ChangeEvent
        fields = [
            "id",
            "entity",
            "shop",
            "key",
            "key_str",
            "object_id",
            "status",
            "previous_status",
            "modified",
            "signals",
            "created_at",
        ]
        extra_kwargs = {
            "key": {
                "help_text": gettext_lazy(
                    "tid for a trade (and for a parcel: its trade's), refund_id for a refund."
                )
            },
            "signals": {
                "help_text": gettext_lazy(
                    "Events this change is beside its own, in order: a presale trade's "
                    "stage transitions (`trade.presale_deposit_paid`, `trade.presale_final_paid`, "
                    "`trade.presale_forfeited`), a parcel's stall beginning (`logistics.stalled`) "
                    "or ending (`logistics.resumed`); usually empty."
                )
            },
            "previous_status": {"help_text": gettext_lazy("null when the row was inserted.")},
            "created_at": {"help_text": gettext_lazy("When the change was written.")},
            "id": {
                "help_text": gettext_lazy(
                    "Unique per change: lets a consumer drop a change it has seen."
                )
            },
        }


class FeedCursorSerializer(serializers.Serializer):
    cursor = serializers.CharField(
        help_text=gettext_lazy(
            "Pass as `cursor` to `GET /api/v1/changes/`: the reader starts with the "
            "changes committed at or after `as_of`."
        )
    )
    as_of = serializers.DateTimeField(help_text=gettext_lazy("The time asked for."))


class ChangePageSerializer(serializers.Serializer):
    results = ChangeSerializer(many=True)
    next_cursor = serializers.CharField(
        help_text=gettext_lazy(
            "Pass as `after` next time; returned even when there was nothing new."
        )
    )
    has_more = serializers.BooleanField(
        help_text=gettext_lazy("More changes are ready now: read again.")
    )


class FeedPositionSerializer(serializers.Serializer):
    read_at = serializers.DateTimeField(
        allow_null=True,
        help_text=gettext_lazy("When this key last read the change feed; null: never."),
    )
    lag_seconds = serializers.FloatField(
        allow_null=True,
        help_text=gettext_lazy(
            "Age of the oldest change this key has not read yet; 0 when caught up."
        ),
    )
    caught_up = serializers.BooleanField(
        allow_null=True,
        help_text=gettext_lazy("Whether the key has read every change visible now."),
    )


class ApiKeySerializer(serializers.ModelSerializer):
    feed = serializers.SerializerMethodField(
        help_text=gettext_lazy("Where this key's reader stands in the change feed, and its lag.")
    )

    @extend_schema_field(FeedPositionSerializer)
    def get_feed(self, key: ApiKey) -> dict:
        from trades.api.feed_position import feed_position

        data = feed_position(key).as_dict()
        return FeedPositionSerializer(data).data

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "feed",
        ]
        read_only_fields = ["prefix", "created_at", "revoked_at", "last_used_at"]

    def validate_expires_at(self, value: datetime | None) -> datetime | None:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError(_("Must be in the future."))
        return value


class IssuedApiKeySerializer(ApiKeySerializer):
    token = serializers.CharField(
        read_only=True, help_text=gettext_lazy("The key itself. Shown this once; store it now.")
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "token"]


class RotateSerializer(serializers.Serializer):
    grace_seconds = serializers.IntegerField(
        min_value=0,
        max_value=7 * 24 * 3600,
        default=0,
        help_text=gettext_lazy("How long the old key keeps working."),
    )
