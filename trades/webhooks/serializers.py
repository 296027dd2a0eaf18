"""What partners send and see of webhook endpoints and deliveries. Secrets appear only in the
answers to create and rotate-secret."""

from __future__ import annotations

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shops.refetch import MAX_TIDS, BadRefetch, parse_tids, parse_time
from trades.api.filters import EnumField, later_than
from trades.webhooks.catalog import EVENT_CHOICES, SUBSCRIBABLE_CHOICES
from trades.webhooks.endpoints import secret_expiries
from trades.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookReplay,
)
from trades.webhooks.payload import with_string_ids
from trades.webhooks.replay import deliveries_by_state

MAX_OVERLAP_SECONDS = 7 * 24 * 3600


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: the schema says boolean, so 0, "yes" or "on" are errors."""

    def to_internal_value(self, data: object) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictURLField(serializers.URLField):
    """A JSON string only (DRF would turn a number into its text)."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class EndpointHealthSerializer(serializers.Serializer):
    backlog = serializers.IntegerField(help_text=_("Deliveries pending (not yet delivered)."))
    oldest_pending_seconds = serializers.FloatField(
        allow_null=True, help_text=_("Age of the oldest pending delivery; null with none.")
    )
    attempts_24h = serializers.IntegerField(help_text=_("Delivery attempts in the last 24 hours."))
    success_rate_24h = serializers.FloatField(
        allow_null=True, help_text=_("Share of those attempts that succeeded; null with none.")
    )


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = StrictURLField(max_length=2000, help_text=_("Where events are POSTed (http or https)."))
    description = StrictCharField(
        max_length=200, required=False, allow_blank=True, help_text=_("For people.")
    )
    is_active = StrictBooleanField(required=False, help_text=_("false stops deliveries."))
    event_types = serializers.ListField(
        child=EnumField(choices=SUBSCRIBABLE_CHOICES),
        min_length=1,
        help_text=_("The event types sent to this URL."),
    )
    secrets_expire_at = serializers.SerializerMethodField(
        help_text=_("When each secret that still signs stops (null: the current one).")
    )
    health = serializers.SerializerMethodField(
        help_text=_("How the endpoint keeps up: backlog, oldest pending, success rate.")
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "is_active",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "secrets_expire_at",
            "health",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DateTimeField(allow_null=True)))
    def get_secrets_expire_at(self, endpoint: WebhookEndpoint) -> list[str | None]:
        field = serializers.DateTimeField()
        return [field.to_representation(at) if at else None for at in secret_expiries(endpoint)]

    @extend_schema_field(EndpointHealthSerializer)
    def get_health(self, endpoint: WebhookEndpoint) -> dict:
        from trades.webhooks.health import endpoint_health

        page = self.context.get("health") or {}  # a list reads its page's health at once
        found = page.get(endpoint.pk) or endpoint_health([endpoint.pk])[endpoint.pk]
        return found.as_dict()


class IssuedEndpointSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text=_("The signing secret. Shown this once; store it now.")
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class RotateSecretSerializer(serializers.Serializer):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_OVERLAP_SECONDS,
        required=False,
        help_text=_(
            "How long the current secret keeps signing next to the new one "
            "(default WEBHOOKS_SECRET_OVERLAP_HOURS)."
        ),
    )

    def validate(self, attrs: dict) -> dict:
        attrs.setdefault("overlap_seconds", int(settings.WEBHOOKS_SECRET_OVERLAP_HOURS * 3600))
        return attrs


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "outcome",
            "status_code",
            "response_body",
            "error",
        ]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.public_id", help_text=_("`webhook-id` sent."))
    event_type = serializers.ChoiceField(
        source="event.type", choices=EVENT_CHOICES, read_only=True, help_text=_("The event's type.")
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "state",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
        ]


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    data = serializers.SerializerMethodField(help_text=_("The event's `data`, as delivered."))
    log = WebhookAttemptSerializer(many=True, read_only=True, help_text=_("Every attempt."))

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "data", "log"]

    @extend_schema_field(serializers.JSONField())
    def get_data(self, delivery: WebhookDelivery) -> dict:
        return with_string_ids(delivery.event.data)


class RedeliverRangeSerializer(serializers.Serializer):
    endpoint = serializers.IntegerField(min_value=1, help_text=_("Deliveries of this endpoint."))
    created_after = serializers.DateTimeField(help_text=_("Created at or after (ISO 8601)."))
    created_before = serializers.DateTimeField(help_text=_("Created before (ISO 8601)."))
    state = EnumField(
        choices=WebhookDelivery.State.choices,
        required=False,
        help_text=_("Only deliveries in this state (e.g. failed)."),
    )
    after = serializers.IntegerField(
        min_value=0,
        max_value=2**63 - 1,
        default=0,
        help_text=_("Only deliveries with a higher id: the next_after of the previous page."),
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["created_after"] > attrs["created_before"]:
            raise serializers.ValidationError({"created_after": [later_than("created_before")]})
        return attrs


class RedeliveredSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField(help_text=_("How many deliveries were queued again."))
    next_after = serializers.IntegerField(
        allow_null=True,
        help_text=_("More are left: send the request again with this as after. null: done."),
    )


class ReplayRequestSerializer(serializers.Serializer):
    since = serializers.CharField(
        required=False,
        help_text=_(
            "Changes committed at or after (ISO 8601; without an offset, platform time). "
            "Required without tids."
        ),
    )
    until = serializers.CharField(
        required=False, help_text=_("Changes committed before; default and at most: now.")
    )
    tids = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        help_text=format_lazy(
            _(
                "Only the changes of these trades (up to {n}, numbers or decimal "
                "strings); with since/until, only those in the range."
            ),
            n=MAX_TIDS,
        ),
    )

    def validate(self, data: dict) -> dict:
        try:
            return {
                "since": parse_time(data["since"], "since") if "since" in data else None,
                "until": parse_time(data["until"], "until") if "until" in data else None,
                "tids": parse_tids(data["tids"]) if "tids" in data else [],
            }
        except BadRefetch as error:
            raise serializers.ValidationError(str(error)) from None


class WebhookReplaySerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    public_id = serializers.CharField(
        read_only=True, help_text=_("What replayed events carry as `replay.id`.")
    )
    tids_str = serializers.SerializerMethodField(help_text=_("`tids` as decimal strings."))
    deliveries = serializers.SerializerMethodField(
        help_text=_("The replayed events' deliveries per state (pending, succeeded, failed).")
    )

    class Meta:
        model = WebhookReplay
        fields = [
            "id",
            "public_id",
            "endpoint",
            "since",
            "until",
            "tids",
            "tids_str",
            "state",
            "changes_total",
            "changes_done",
            "emitted",
            "deliveries",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_tids_str(self, replay: WebhookReplay) -> list[str]:
        return [str(tid) for tid in replay.tids]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
    def get_deliveries(self, replay: WebhookReplay) -> dict[str, int]:
        found = self.context.get("deliveries")
        if found is None:
            found = deliveries_by_state([replay.pk])
        return found.get(replay.pk, {})
