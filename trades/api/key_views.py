"""API keys through the API: a read_write key of a tenant manages that tenant's keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from trades.api import filters, openapi
from trades.api import serializers as s
from trades.api.auth import HasWriteKey
from trades.api.key_models import ApiKey
from trades.api.keys import IssuedKey, create_api_key, revoke_api_key, rotate_api_key
from trades.api.views import ERRORS, ReadOnlyTenantViewSet, _list_schema, _retrieve_schema

_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description=_("The key's id."))


@extend_schema_view(
    list=_list_schema(s.ApiKeySerializer, filters.PageQuery, "ApiKeyPage"),
    retrieve=_retrieve_schema(s.ApiKeySerializer, "id", _("The key's id.")),
)
class ApiKeyViewSet(ReadOnlyTenantViewSet):
    """The tenant's API keys, for read_write keys only. Tokens are never shown again."""

    openapi_resource = openapi.API_KEYS

    serializer_class = s.ApiKeySerializer
    ordering = ("-id",)
    # a read key (a BI tool, say) has no business knowing which other keys exist
    permission_classes = [HasWriteKey]

    def tenant_queryset(self) -> QuerySet:
        return ApiKey.objects.filter(tenant=self.tenant)

    @extend_schema(
        request=s.ApiKeySerializer,
        responses={201: s.IssuedApiKeySerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        filters.parse_query(request, filters.NoQuery)
        body = s.ApiKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = create_api_key(self.tenant, **body.validated_data)
        return _issued(issued, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[_ID],
        responses={204: None, **ERRORS},
    )
    def destroy(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        revoke_api_key(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[_ID],
        request=s.RotateSerializer,
        responses={201: s.IssuedApiKeySerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], serializer_class=s.RotateSerializer)
    def rotate(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        key = self.get_object()
        body = s.RotateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if key.revoked_at is not None:
            raise exceptions.ValidationError({"id": ["A revoked key cannot be rotated."]})
        grace = timedelta(seconds=body.validated_data["grace_seconds"])
        try:
            issued = rotate_api_key(key, grace=grace)
        except ValueError as exc:
            raise exceptions.ValidationError({"id": [str(exc)]}) from None
        return _issued(issued, status.HTTP_201_CREATED)


def _issued(issued: IssuedKey, code: int) -> Response:
    data = s.ApiKeySerializer(issued.key).data
    data["token"] = issued.token
    return Response(data, status=code)
