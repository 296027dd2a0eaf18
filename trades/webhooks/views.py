"""Webhook endpoints and their deliveries through the API (writes need read_write keys)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from trades.api import filters
from trades.api.pagination import BIGINT_MAX, PageQuery
from trades.api.views import ERRORS, ReadOnlyTenantViewSet, _list_schema, _retrieve_schema
from trades.webhooks import endpoints as actions
from trades.webhooks import serializers as ws
from trades.webhooks.health import endpoint_health
from trades.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookReplay
from trades.webhooks.openapi import WEBHOOK_DELIVERIES, WEBHOOK_ENDPOINTS, WEBHOOK_REPLAYS
from trades.webhooks.replay import InvalidReplay, deliveries_by_state, request_replay

_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description=_("The endpoint's id."))
_DELIVERY_ID = OpenApiParameter(
    "id", int, OpenApiParameter.PATH, description=_("The delivery's id.")
)


def _invalid(exc: actions.InvalidEndpoint, field: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [str(exc)]})


def _issued(issued: actions.IssuedSecret, code: int) -> Response:
    data = ws.WebhookEndpointSerializer(issued.endpoint).data
    data["secret"] = issued.secret
    return Response(data, status=code)


@extend_schema_view(
    list=_list_schema(ws.WebhookEndpointSerializer, PageQuery, "WebhookEndpointPage"),
    retrieve=_retrieve_schema(ws.WebhookEndpointSerializer, "id", _("The endpoint's id.")),
)
class WebhookEndpointViewSet(ReadOnlyTenantViewSet):
    """The tenant's webhook endpoints."""

    openapi_resource = WEBHOOK_ENDPOINTS

    serializer_class = ws.WebhookEndpointSerializer
    ordering = ("-id",)

    def render(self, rows: list[Any]) -> list[dict[str, Any]]:
        """A page with the health of all its endpoints read at once (two queries)."""
        context = {**self.get_serializer_context(), "health": endpoint_health([r.pk for r in rows])}
        return self.get_serializer_class()(rows, many=True, context=context).data

    def tenant_queryset(self) -> QuerySet:
        return actions.with_secret_expiries(WebhookEndpoint.objects.for_tenant(self.tenant))

    @extend_schema(
        request=ws.WebhookEndpointSerializer,
        responses={201: ws.IssuedEndpointSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        filters.parse_query(request, filters.NoQuery)
        body = ws.WebhookEndpointSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = body.validated_data
        try:
            issued = actions.create_endpoint(
                self.tenant, fields["url"], fields["event_types"], fields.get("description", "")
            )
        except actions.InvalidEndpoint as exc:
            raise _invalid(exc, "url") from None
        if fields.get("is_active") is False:
            actions.update_endpoint(issued.endpoint, is_active=False)
        return _issued(issued, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[_ID],
        request=ws.WebhookEndpointSerializer,
        responses={200: ws.WebhookEndpointSerializer, **ERRORS},
    )
    def partial_update(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        endpoint = self.get_object()
        body = ws.WebhookEndpointSerializer(endpoint, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            actions.update_endpoint(endpoint, **body.validated_data)
        except actions.InvalidEndpoint as exc:
            raise _invalid(exc, "url") from None
        return Response(ws.WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        parameters=[_ID],
        responses={204: None, **ERRORS},
    )
    def destroy(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        actions.delete_endpoint(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[_ID],
        request=ws.RotateSecretSerializer,
        responses={201: ws.IssuedEndpointSerializer, **ERRORS},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="rotate-secret",
        serializer_class=ws.RotateSecretSerializer,
    )
    def rotate_secret(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        endpoint = self.get_object()
        body = ws.RotateSecretSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        overlap = timedelta(seconds=body.validated_data["overlap_seconds"])
        return _issued(actions.rotate_secret(endpoint, overlap), status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[_ID],
        request=None,
        responses={202: ws.WebhookDeliverySerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], serializer_class=serializers.Serializer)
    def test(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        try:
            delivery = actions.send_test_event(self.get_object())
        except actions.InvalidEndpoint as exc:
            raise _invalid(exc, "id") from None
        return Response(ws.WebhookDeliverySerializer(delivery).data, status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[_ID],
        request=ws.ReplayRequestSerializer,
        responses={202: ws.WebhookReplaySerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], serializer_class=ws.ReplayRequestSerializer)
    def replays(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        endpoint = self.get_object()
        body = ws.ReplayRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            replay = request_replay(
                endpoint, **body.validated_data, requested_by=f"API key {request.auth.prefix}"
            )
        except InvalidReplay as exc:
            raise exceptions.ValidationError({"detail": [str(exc)]}) from None
        return Response(ws.WebhookReplaySerializer(replay).data, status.HTTP_202_ACCEPTED)


class DeliveryQuery(PageQuery):
    endpoint = serializers.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, help_text=_("Only this endpoint's.")
    )
    state = filters.enum(WebhookDelivery.State.choices, _("Only deliveries in this state."))


@extend_schema_view(
    list=_list_schema(ws.WebhookDeliverySerializer, DeliveryQuery, "WebhookDeliveryPage"),
    retrieve=_retrieve_schema(ws.WebhookDeliveryDetailSerializer, "id", _("The delivery's id.")),
)
class WebhookDeliveryViewSet(ReadOnlyTenantViewSet):
    """Deliveries of the tenant's events to its endpoints, newest first, with every attempt."""

    openapi_resource = WEBHOOK_DELIVERIES

    query_class = DeliveryQuery
    ordering = ("-id",)

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action == "retrieve":
            return ws.WebhookDeliveryDetailSerializer
        return ws.WebhookDeliverySerializer

    def tenant_queryset(self) -> QuerySet:
        deliveries = WebhookDelivery.objects.filter(tenant=self.tenant).select_related("event")
        if self.action == "retrieve":
            return deliveries.prefetch_related("log")
        return deliveries

    @extend_schema(
        parameters=[_DELIVERY_ID],
        request=None,
        responses={202: ws.RedeliveredSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], serializer_class=serializers.Serializer)
    def redeliver(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        delivery = self.get_object()
        done = actions.redeliver(self.tenant.pk, WebhookDelivery.objects.filter(pk=delivery.pk))
        return _redelivered(done)

    @extend_schema(
        # distinct from the detail action's id, which the same path stem would give it
        operation_id="v1_webhook_deliveries_redeliver_range",
        request=ws.RedeliverRangeSerializer,
        responses={202: ws.RedeliveredSerializer, **ERRORS},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="redeliver",
        serializer_class=ws.RedeliverRangeSerializer,
    )
    def redeliver_range(self, request: Request) -> Response:
        filters.parse_query(request, filters.NoQuery)
        body = ws.RedeliverRangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        wanted = body.validated_data
        if not WebhookEndpoint.objects.for_tenant(self.tenant).filter(pk=wanted["endpoint"]):
            raise exceptions.NotFound()
        deliveries = WebhookDelivery.objects.filter(
            tenant=self.tenant,
            endpoint_id=wanted["endpoint"],
            created_at__gte=wanted["created_after"],
            created_at__lt=wanted["created_before"],
        )
        if "state" in wanted:
            deliveries = deliveries.filter(state=wanted["state"])
        return _redelivered(actions.redeliver(self.tenant.pk, deliveries, wanted["after"]))


class ReplayQuery(PageQuery):
    endpoint = serializers.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, help_text=_("Only this endpoint's.")
    )
    state = filters.enum(WebhookReplay.State.choices, _("Only replays in this state."))


@extend_schema_view(
    list=_list_schema(ws.WebhookReplaySerializer, ReplayQuery, "WebhookReplayPage"),
    retrieve=_retrieve_schema(ws.WebhookReplaySerializer, "id", _("The replay's id.")),
)
class WebhookReplayViewSet(ReadOnlyTenantViewSet):
    """Replays of the tenant's changes to one of its endpoints, newest first."""

    openapi_resource = WEBHOOK_REPLAYS

    serializer_class = ws.WebhookReplaySerializer
    query_class = ReplayQuery
    ordering = ("-id",)

    def tenant_queryset(self) -> QuerySet:
        return WebhookReplay.objects.for_tenant(self.tenant)

    def render(self, rows: list[Any]) -> list[dict[str, Any]]:
        """A page with its replays' delivery counts read at once."""
        found = deliveries_by_state([r.pk for r in rows])
        context = {**self.get_serializer_context(), "deliveries": found}
        return self.get_serializer_class()(rows, many=True, context=context).data


def _redelivered(done: actions.Redelivered) -> Response:
    body = {"redelivered": done.count, "next_after": done.next_after}
    return Response(body, status=status.HTTP_202_ACCEPTED)
