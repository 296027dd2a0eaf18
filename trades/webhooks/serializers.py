"""What partners send and see of webhook endpoints and deliveries. Secrets appear only in the
answers to create and rotate-secret."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from trades.api.filters import EnumField, later_than
from trades.webhooks.catalog import EVENT_CHOICES, SUBSCRIBABLE_CHOICES
from trades.webhooks.endpoints import secret_expiries
from trades.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from trades.webhooks.payload import with_string_ids

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
    backlog = serializers.IntegerField(help_text="Deliveries pending (not yet delivered).")
    oldest_pending_seconds = serializers.FloatField(
        allow_null=True, help_text="Age of the oldest pending delivery; null with none."
    )
    attempts_24h = serializers.IntegerField(help_text="Delivery attempts in the last 24 hours.")
    success_rate_24h = serializers.FloatField(
        allow_null=True, help_text="Share of those attempts that succeeded; null with none."
    )


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = StrictURLField(max_length=2000, help_text="Where events are POSTed (http or https).")
    description = StrictCharField(
        max_length=200, required=False, allow_blank=True, help_text="For people."
    )
    is_active = StrictBooleanField(required=False, help_text="false stops deliveries.")
    event_types = serializers.ListField(
        child=EnumField(choices=SUBSCRIBABLE_CHOICES),
        min_length=1,
        help_text="The event types sent to this URL.",
    )
    secrets_expire_at = serializers.SerializerMethodField(
        help_text="When each secret that still signs stops (null: the current one)."
    )
    health = serializers.SerializerMethodField(
        help_text="How the endpoint keeps up: backlog, oldest pending, success rate."
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
        read_only=True, help_text="The signing secret. Shown this once; store it now."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class RotateSecretSerializer(serializers.Serializer):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_OVERLAP_SECONDS,
        required=False,
        help_text="How long the current secret keeps signing next to the new one "
        "(default WEBHOOKS_SECRET_OVERLAP_HOURS).",
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
    event_id = serializers.CharField(source="event.public_id", help_text="`webhook-id` sent.")
    event_type = serializers.ChoiceField(
        source="event.type", choices=EVENT_CHOICES, read_only=True, help_text="The event's type."
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
    data = serializers.SerializerMethodField(help_text="The event's `data`, as delivered.")
    log = WebhookAttemptSerializer(many=True, read_only=True, help_text="Every attempt.")

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "data", "log"]

    @extend_schema_field(serializers.JSONField())
    def get_data(self, delivery: WebhookDelivery) -> dict:
        return with_string_ids(delivery.event.data)


class RedeliverRangeSerializer(serializers.Serializer):
    endpoint = serializers.IntegerField(min_value=1, help_text="Deliveries of this endpoint.")
    created_after = serializers.DateTimeField(help_text="Created at or after (ISO 8601).")
    created_before = serializers.DateTimeField(help_text="Created before (ISO 8601).")
    state = EnumField(
        choices=WebhookDelivery.State.choices,
        required=False,
        help_text="Only deliveries in this state (e.g. failed).",
    )
    after = serializers.IntegerField(
        min_value=0,
        max_value=2**63 - 1,
        default=0,
        help_text="Only deliveries with a higher id: the next_after of the previous page.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["created_after"] > attrs["created_before"]:
            raise serializers.ValidationError({"created_after": [later_than("created_before")]})
        return attrs


class RedeliveredSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField(help_text="How many deliveries were queued again.")
    next_after = serializers.IntegerField(
        allow_null=True,
        help_text="More are left: send the request again with this as after. null: done.",
    )
