"""Query parameters of each list, validated (a bad value is a 400 naming it), and applied."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.request import Request

from shops.jobs import JOB_TASKS
from shops.models import Shop, SyncRun
from trades.api.models import Job
from trades.api.pagination import BIGINT_MAX, PageQuery, fields_param
from trades.models import REFUND_STATUSES, TRADE_STATUSES
from trades.presale.models import PresaleReservation

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def later_than(other: str) -> str:
    """The error of a range whose start is after its end (``other`` names the end)."""
    return _("Must not be later than %(name)s.") % {"name": other}


class EnumField(serializers.ChoiceField):
    """A choice whose error lists every allowed value, so a person can fix the request."""

    def __init__(self, choices: Iterable[Any], **kwargs: Any) -> None:
        super().__init__(choices, **kwargs)
        allowed = ", ".join(str(value) for value in self.choices)
        self.error_messages["invalid_choice"] = f'"{{input}}" is not one of: {allowed}.'


def enum(choices: Iterable[Any], help_text: StrOrPromise) -> EnumField:
    return EnumField(choices, required=False, help_text=help_text)


def _id(help_text: StrOrPromise) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, help_text=help_text
    )


def _text(help_text: StrOrPromise, max_length: int = 128) -> serializers.CharField:
    return serializers.CharField(required=False, max_length=max_length, help_text=help_text)


def _since(help_text: StrOrPromise) -> serializers.DateTimeField:
    """The start of a time range, e.g. ``_("Created at or after (ISO 8601).")``."""
    return serializers.DateTimeField(required=False, help_text=help_text)


def _until(help_text: StrOrPromise) -> serializers.DateTimeField:
    """The end of a time range, e.g. ``_("Created before (ISO 8601).")``."""
    return serializers.DateTimeField(required=False, help_text=help_text)


class RangeCheck:
    """Rejects ``x_after`` later than ``x_before`` for each named range."""

    ranges: tuple[str, ...] = ()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in self.ranges:
            start, end = attrs.get(f"{name}_after"), attrs.get(f"{name}_before")
            if start and end and start > end:
                raise serializers.ValidationError({f"{name}_after": [later_than(f"{name}_before")]})
        return attrs


class ShopQuery(PageQuery):
    status = enum(Shop.Status.choices, gettext_lazy("Only shops in this status."))


class TradeQuery(RangeCheck, PageQuery):
    ranges = ("created", "modified")

    shop = _id(gettext_lazy("Only trades of this shop."))
    status = enum(TRADE_STATUSES, gettext_lazy("Trade status, e.g. WAIT_SELLER_SEND_GOODS."))
    # the types synced are the only ones stored
    type = enum(
        settings.SYNC_TRADE_TYPES, gettext_lazy("Trade type (one of SYNC_TRADE_TYPES), e.g. fixed.")
    )
    created_after = _since(gettext_lazy("Created at or after (ISO 8601)."))
    created_before = _until(gettext_lazy("Created before (ISO 8601)."))
    modified_after = _since(gettext_lazy("Modified at or after (ISO 8601)."))
    modified_before = _until(gettext_lazy("Modified before (ISO 8601)."))
    buyer_open_uid = _text(gettext_lazy("The buyer's open uid."))


class RefundQuery(RangeCheck, PageQuery):
    ranges = ("modified",)

    shop = _id(gettext_lazy("Only refunds of this shop."))
    status = enum(REFUND_STATUSES, gettext_lazy("Refund status, e.g. WAIT_SELLER_AGREE."))
    tid = _id(gettext_lazy("Only refunds of this trade."))
    modified_after = _since(gettext_lazy("Modified at or after (ISO 8601)."))
    modified_before = _until(gettext_lazy("Modified before (ISO 8601)."))


class SyncRunQuery(RangeCheck, PageQuery):
    ranges = ("started",)

    shop = _id(gettext_lazy("Only runs of this shop."))
    kind = enum(SyncRun.Kind.choices, gettext_lazy("Only runs of this kind."))
    outcome = enum(SyncRun.Outcome.choices, gettext_lazy("Only runs with this outcome."))
    started_after = _since(gettext_lazy("Started at or after (ISO 8601)."))
    started_before = _until(gettext_lazy("Started before (ISO 8601)."))


class ReconcileReportQuery(RangeCheck, PageQuery):
    ranges = ("day",)

    shop = _id(gettext_lazy("Only reports of this shop."))
    day_after = serializers.DateField(
        required=False, help_text=gettext_lazy("Day on or after (YYYY-MM-DD).")
    )
    day_before = serializers.DateField(
        required=False, help_text=gettext_lazy("Day before (YYYY-MM-DD).")
    )


class PresaleReservationQuery(PageQuery):
    shop = _id(gettext_lazy("Only this shop's reservations."))
    sku = _text(gettext_lazy("Only this SKU: its `sku_id` or its `outer_sku_id`."), 64)
    stage = EnumField(
        PresaleReservation.Stage.choices,
        required=False,
        default=PresaleReservation.Stage.DEPOSIT_PAID,
        help_text=gettext_lazy(
            "`deposit_paid` (the default): the units reserved; `deposit_unpaid`: the "
            "units ordered whose deposit is not paid yet."
        ),
    )


class JobQuery(PageQuery):
    shop = _id(gettext_lazy("Only jobs of this shop."))
    kind = enum(list(JOB_TASKS), gettext_lazy("Only jobs of this kind."))
    state = enum(Job.State.choices, gettext_lazy("Only jobs in this state."))


class ChangeQuery(serializers.Serializer):
    cursor = serializers.CharField(
        required=False,
        max_length=200,
        help_text=gettext_lazy(
            "`next_cursor` of the previous read; omit to start at the beginning."
        ),
    )
    after = serializers.CharField(
        required=False,
        max_length=200,
        help_text=gettext_lazy("Deprecated: the old name of `cursor`."),
    )
    shop = _id(gettext_lazy("Only changes of this shop."))
    limit = serializers.IntegerField(
        required=False,
        default=100,
        min_value=1,
        max_value=1000,
        help_text=gettext_lazy("At most 1000."),
    )
    fields = fields_param()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "cursor" in attrs and "after" in attrs:
            raise serializers.ValidationError({"after": ["Send cursor or after, not both."]})
        if "after" in attrs:
            attrs["cursor"] = attrs.pop("after")
        return attrs


FEED_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class AsOfQuery(serializers.Serializer):
    as_of = serializers.DateTimeField(
        help_text=gettext_lazy(
            "A past time (ISO 8601; without an offset, platform time): the cursor "
            "starts at the changes committed at or after it."
        )
    )

    def validate_as_of(self, value: datetime) -> datetime:
        if value < FEED_EPOCH:
            raise serializers.ValidationError(
                _("as_of is before 2000: the feed holds nothing then.")
            )
        if value > timezone.now():
            raise serializers.ValidationError(
                _("as_of is in the future: a cursor can start only where the feed has been.")
            )
        return value


def parse_query(request: Request, query_class: type[serializers.Serializer]) -> dict[str, Any]:
    """Validate the request's query string; unknown parameters are errors, not ignored."""
    query = _validator(query_class)
    unknown = sorted(set(request.query_params) - set(query.fields))
    errors = {name: ["Unknown query parameter."] for name in unknown}
    try:
        # a plain dict, so an empty value (`?status=`) is an error rather than "not given" as
        # DRF treats empty form fields
        params = query.run_validation(request.query_params.dict())
    except serializers.ValidationError as exc:
        errors.update(exc.detail)
    if errors:
        raise serializers.ValidationError(errors)
    return params


@cache
def _validator(query_class: type[serializers.Serializer]) -> serializers.Serializer:
    # One instance per class, reused: building a serializer deep-copies its fields, which
    # costs more than the rest of a small list request. Validation keeps no state on it.
    return query_class()


# query parameter -> ORM lookup, for the parameters that filter one to one
LOOKUPS = {
    "shop": "shop_id",
    "status": "status",
    "type": "type",
    "tid": "tid",
    "kind": "kind",
    "outcome": "outcome",
    "buyer_open_uid": "buyer_open_uid",
    "created_after": "created__gte",
    "created_before": "created__lt",
    "modified_after": "modified__gte",
    "modified_before": "modified__lt",
    "started_after": "started_at__gte",
    "started_before": "started_at__lt",
    "day_after": "day__gte",
    "day_before": "day__lt",
    "endpoint": "endpoint_id",
    "state": "state",
    "stage": "stage",
    "action": "action",
    "actor_kind": "actor_kind",
    "at_after": "at__gte",
    "at_before": "at__lt",
}


def lookups(params: dict[str, Any]) -> dict[str, Any]:
    """The ORM lookups the validated ``params`` filter by."""
    return {LOOKUPS[name]: value for name, value in params.items() if name in LOOKUPS}


def apply_filters(queryset: models.QuerySet, params: dict[str, Any]) -> models.QuerySet:
    return queryset.filter(**lookups(params))


class NoQuery(serializers.Serializer):
    """Endpoints that take no query parameters still reject unknown ones."""
