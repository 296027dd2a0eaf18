"""The partner API's endpoints. Every queryset starts from the API key's tenant."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Model, Prefetch, Q, QuerySet
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from shops.models import Shop, SyncRun, Tenant
from trades.api import fastrows, filters, headers, idempotency, openapi
from trades.api import serializers as s
from trades.api.errors import ErrorSerializer
from trades.api.feed_position import note_read
from trades.api.jobs import queue_job, refresh
from trades.api.models import Job
from trades.api.pagination import BIGINT_MAX, InvalidPageCursor, keyset_page, page_serializer
from trades.feed.changes import InvalidCursor, cursor_as_of, read_changes_json
from trades.models import ReconcileReport, Refund, Trade, TradeLine
from trades.presale.models import PresaleReservation

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 429)}


def _lookup_int(value: str) -> int:
    """A path id; anything that cannot be one is simply not found."""
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= BIGINT_MAX:
        raise Http404
    return int(value)


LOCATION = OpenApiParameter(
    "Location",
    str,
    OpenApiParameter.HEADER,
    response=[202],
    description=gettext_lazy("The URL of the job: GET it for the job's state."),
)
DEPRECATED_AFTER = OpenApiParameter(
    "after",
    str,
    OpenApiParameter.QUERY,
    deprecated=True,
    description=gettext_lazy("The old name of `cursor`; still accepted."),
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429],
    description=gettext_lazy("Seconds until this API key may send requests again."),
)


# answers that passed the key's budget check carry its state (401 and 403 come before it)
_COUNTED = [200, 201, 202, 204, 304, 400, 404, 409, 422, 429]
RATE_LIMIT = [
    OpenApiParameter(name, int, OpenApiParameter.HEADER, response=_COUNTED, description=description)
    for name, description in (
        ("RateLimit-Limit", gettext_lazy("Requests this API key may send per window.")),
        ("RateLimit-Remaining", gettext_lazy("Requests left in the current window.")),
        ("RateLimit-Reset", gettext_lazy("Seconds until the window ends.")),
    )
]
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=gettext_lazy(
        "Any unique string (a UUID) per intended request. The same key again (for "
        "24 hours) returns the first successful answer instead of doing it twice; with another "
        "body it is a 422, while the first still runs a 409."
    ),
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description=gettext_lazy(
        "The ETag of the copy you hold: 304 with no body while it is current."
    ),
)
ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 304],
    description=gettext_lazy("The body's tag."),
)
NOT_MODIFIED = OpenApiResponse(
    description=gettext_lazy("Not modified: If-None-Match named the current ETag.")
)


class ApiSchema(AutoSchema):
    """Our lists declare their page body themselves; spectacular must not wrap it in an array.

    Every operation can be throttled, so every one documents Retry-After on its 429 and the
    rate-limit headers; POSTs take Idempotency-Key, details answer If-None-Match. Tags,
    summaries, descriptions and examples come from the view's ``openapi_resource``.
    """

    def _resource(self) -> openapi.Resource | None:
        return getattr(self.view, "openapi_resource", None)

    def _operation(self) -> openapi.Operation | None:
        resource = self._resource()
        return resource and resource.operations.get(getattr(self.view, "action", None))

    def get_tags(self) -> list[str]:
        resource = self._resource()
        return [resource.tag] if resource else super().get_tags()

    def get_summary(self) -> str | None:
        operation = self._operation()
        return str(operation.summary) if operation else super().get_summary()

    def get_description(self) -> str:
        operation = self._operation()
        return str(operation.description) if operation else super().get_description()

    def get_examples(self) -> list:
        operation = self._operation()
        return [*super().get_examples(), *(operation.examples() if operation else [])]

    def get_override_parameters(self) -> list:
        params = [*super().get_override_parameters(), RETRY_AFTER, *RATE_LIMIT]
        if self.method == "POST":
            params.append(IDEMPOTENCY_KEY)
        if getattr(self.view, "action", None) == "retrieve":
            params += [IF_NONE_MATCH, ETAG]
        return params

    def _get_response_bodies(self, direction: str = "response") -> dict:
        # extend_schema's own response overrides come first; these are added to them
        bodies = super()._get_response_bodies(direction)
        extra = {}
        if self.method == "POST":
            extra = {"409": ErrorSerializer, "422": ErrorSerializer}
        elif getattr(self.view, "action", None) == "retrieve":
            extra = {"304": NOT_MODIFIED}
        for code, body in extra.items():
            bodies.setdefault(code, self._get_response_for_code(body, code, direction=direction))
        return bodies

    def _is_list_view(self, serializer: serializers.BaseSerializer | None = None) -> bool:
        # still a list for naming the operation (`…_list`), never for wrapping a response
        return serializer is None and getattr(self.view, "action", None) == "list"


class TenantViewSet(viewsets.GenericViewSet):
    """Lookups are inside the key's tenant: another tenant's object is not found.

    Every answer carries the key's rate-limit state; a POST may carry an Idempotency-Key.
    """

    schema = ApiSchema()
    idempotency_claim: idempotency.Claim | None = None
    _throttles: list = []

    @property
    def tenant(self) -> Tenant:
        return self.request.auth.tenant

    def get_throttles(self) -> list:
        # kept to read their state when the answer is finalized
        self._throttles = super().get_throttles()
        return self._throttles

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            self.idempotency_claim = idempotency.claim(request, self.tenant)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, idempotency.Replayed):
            return exc.response
        try:
            return super().handle_exception(exc)
        except Exception:
            # a 500: the request may be sent again with its key
            if self.idempotency_claim is not None:
                self.idempotency_claim.record.delete()
            raise

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.idempotency_claim is not None:
            idempotency.finish(self.idempotency_claim, response)
            self.idempotency_claim = None
        for throttle in self._throttles:
            for name, value in headers.rate_limit_headers(throttle).items():
                response[name] = value
        return response

    def tenant_queryset(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        return self.tenant_queryset()

    def get_object(self) -> Model:
        lookup = _lookup_int(self.kwargs[self.lookup_field])
        obj = self.get_queryset().filter(**{self.lookup_field: lookup}).order_by("id").first()
        if obj is None:
            raise Http404
        return obj


class ReadOnlyTenantViewSet(TenantViewSet):
    """Lists are keyset-paged in ``ordering``, filtered by validated ``query_class``."""

    query_class: type[serializers.Serializer] = filters.PageQuery
    ordering: tuple[str, ...] = ("-id",)

    def list(self, request: Request) -> Response:
        params = filters.parse_query(request, self.query_class)
        chosen = chosen_fields(params, self.get_serializer_class())
        queryset = filters.apply_filters(self.get_queryset(), params)
        with cursor_param():
            rows, next_cursor = keyset_page(
                queryset, self.ordering, params.get("cursor"), params["limit"]
            )
        results = only(self.render(rows), chosen)
        return Response(
            {"results": results, "next_cursor": next_cursor, "has_more": next_cursor is not None}
        )

    def render(self, rows: list[Any]) -> list[dict[str, Any]]:
        return self.get_serializer(rows, many=True).data

    def retrieve(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        data = self.get_serializer(self.get_object()).data
        tag = headers.etag(data)
        if headers.matches(request.headers.get("If-None-Match"), tag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        return Response(data, headers={"ETag": tag})


@contextmanager
def cursor_param() -> Iterator[None]:
    """A cursor this list did not make is a 400 naming ``cursor``."""
    try:
        yield
    except InvalidPageCursor as exc:
        raise serializers.ValidationError({"cursor": [str(exc)]}) from None


def json_page(objects: list[str], next_cursor: str | None, has_more: bool) -> HttpResponse:
    """A list page from its rows' JSON texts, without a serializer or renderer."""
    body = fastrows.page_body(objects, next_cursor, has_more)
    return HttpResponse(body, content_type="application/json")


@cache
def _field_names(serializer_class: type[serializers.Serializer]) -> tuple[str, ...]:
    return tuple(serializer_class().fields)


def chosen_fields(
    params: dict[str, Any], serializer_class: type[serializers.Serializer]
) -> list[str] | None:
    """The names ``fields=`` asks for (``None``: all); an unknown one is a 400."""
    if "fields" not in params:
        return None
    known = _field_names(serializer_class)
    wanted = list(dict.fromkeys(name.strip() for name in params["fields"].split(",")))
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise serializers.ValidationError(
            {
                "fields": [
                    _("Unknown field %(unknown)s; known: %(known)s.")
                    % {"unknown": ", ".join(map(repr, unknown)), "known": ", ".join(known)}
                ]
            }
        )
    return wanted


def only(results: list[dict[str, Any]], chosen: list[str] | None) -> list[dict[str, Any]]:
    if chosen is None:
        return results
    return [{name: row[name] for name in chosen} for row in results]


def _list_schema(
    item: type[serializers.Serializer], query: type, name: str
) -> Callable[[Any], Any]:
    return extend_schema(parameters=[query], responses={200: page_serializer(item, name), **ERRORS})


def _retrieve_schema(
    item: type[serializers.Serializer], lookup: str, what: StrOrPromise
) -> Callable[[Any], Any]:
    return extend_schema(
        parameters=[OpenApiParameter(lookup, int, OpenApiParameter.PATH, description=what)],
        responses={200: item, **ERRORS},
    )


@extend_schema_view(
    list=_list_schema(s.ShopSerializer, filters.ShopQuery, "ShopPage"),
    retrieve=_retrieve_schema(s.ShopSerializer, "id", gettext_lazy("The shop's id.")),
)
class ShopViewSet(ReadOnlyTenantViewSet):
    """The tenant's shops with their sync health."""

    openapi_resource = openapi.SHOPS

    serializer_class = s.ShopSerializer
    query_class = filters.ShopQuery
    ordering = ("id",)

    def tenant_queryset(self) -> QuerySet:
        day_ago = timezone.now() - timedelta(days=1)
        return (
            Shop.objects.for_tenant(self.tenant)
            .annotate(
                failed_runs_24h=Count(
                    "sync_runs",
                    filter=Q(
                        sync_runs__outcome=SyncRun.Outcome.FAILED,
                        sync_runs__started_at__gte=day_ago,
                    ),
                )
            )
            .prefetch_related(
                "checkpoints",
                Prefetch(
                    "sync_runs",
                    queryset=SyncRun.objects.order_by("-started_at", "-id")[:1],
                    to_attr="latest_runs",
                ),
            )
        )

    @extend_schema(
        request=s.JobRequestSerializer,
        responses={202: s.JobQueuedSerializer, **ERRORS},
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH), LOCATION],
    )
    @action(detail=True, methods=["post"], serializer_class=s.JobRequestSerializer)
    def jobs(self, request: Request, **kwargs: Any) -> Response:
        filters.parse_query(request, filters.NoQuery)
        shop = self.get_object()
        body = s.JobRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = queue_job(shop, body.validated_data["kind"], body.validated_data.get("params"))
        url = reverse("job-detail", kwargs={"pk": job.pk})
        data = {
            "shop": shop.pk,
            "kind": job.kind,
            "task_id": job.task_id,
            "job": job.pk,
            "url": url,
        }
        return Response(
            data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": request.build_absolute_uri(url)},
        )


@extend_schema_view(
    list=_list_schema(s.JobSerializer, filters.JobQuery, "JobPage"),
    retrieve=_retrieve_schema(s.JobSerializer, "id", gettext_lazy("The job's id.")),
)
class JobViewSet(ReadOnlyTenantViewSet):
    """Jobs queued through ``POST shops/{id}/jobs/``, with their state, newest first."""

    openapi_resource = openapi.JOBS

    serializer_class = s.JobSerializer
    query_class = filters.JobQuery
    ordering = ("-id",)

    def tenant_queryset(self) -> QuerySet:
        return Job.objects.filter(tenant=self.tenant)

    def get_object(self) -> Job:
        return refresh(super().get_object())


@extend_schema_view(
    list=_list_schema(s.TradeSerializer, filters.TradeQuery, "TradePage"),
    retrieve=_retrieve_schema(
        s.TradeDetailSerializer, "tid", gettext_lazy("The platform's trade id.")
    ),
)
class TradeViewSet(ReadOnlyTenantViewSet):
    """Trades with their sub-orders, newest change first."""

    openapi_resource = openapi.TRADES

    query_class = filters.TradeQuery
    ordering = ("-modified", "-id")
    lookup_field = "tid"

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return s.TradeDetailSerializer if self.action == "retrieve" else s.TradeSerializer

    def tenant_queryset(self) -> QuerySet:
        trades = Trade.objects.for_tenant(self.tenant)
        lines = Prefetch("lines", queryset=TradeLine.objects.order_by("oid", "id"))
        return trades.prefetch_related(lines)

    def list(self, request: Request) -> HttpResponse:  # type: ignore[override]
        params = filters.parse_query(request, self.query_class)
        chosen = chosen_fields(params, s.TradeSerializer)
        with cursor_param():
            objects, next_cursor = fastrows.trade_page(
                self.tenant.pk,
                filters.lookups(params),
                params.get("cursor"),
                params["limit"],
                chosen,
            )
        return json_page(objects, next_cursor, next_cursor is not None)

    def get_object(self) -> Trade:
        trade = super().get_object()
        trade.refund_list = list(
            Refund.objects.for_tenant(self.tenant)
            .filter(shop_id=trade.shop_id, tid=trade.tid)
            .order_by("created", "id")
        )
        return trade


@extend_schema_view(
    list=_list_schema(s.RefundSerializer, filters.RefundQuery, "RefundPage"),
    retrieve=_retrieve_schema(
        s.RefundDetailSerializer, "refund_id", gettext_lazy("The platform's refund id.")
    ),
)
class RefundViewSet(ReadOnlyTenantViewSet):
    """Refunds, newest change first."""

    openapi_resource = openapi.REFUNDS

    query_class = filters.RefundQuery
    ordering = ("-modified", "-id")
    lookup_field = "refund_id"

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return s.RefundDetailSerializer if self.action == "retrieve" else s.RefundSerializer

    def tenant_queryset(self) -> QuerySet:
        refunds = Refund.objects.for_tenant(self.tenant)
        return refunds if self.action == "retrieve" else refunds.defer("payload")


@extend_schema_view(
    list=_list_schema(s.SyncRunSerializer, filters.SyncRunQuery, "SyncRunPage"),
    retrieve=_retrieve_schema(s.SyncRunSerializer, "id", gettext_lazy("The run's id.")),
)
class SyncRunViewSet(ReadOnlyTenantViewSet):
    """Sync runs of the tenant's shops, newest first."""

    openapi_resource = openapi.SYNC_RUNS

    serializer_class = s.SyncRunSerializer
    query_class = filters.SyncRunQuery
    ordering = ("-id",)

    def tenant_queryset(self) -> QuerySet:
        return SyncRun.objects.filter(shop__tenant=self.tenant)


@extend_schema_view(
    list=_list_schema(s.ReconcileReportSerializer, filters.ReconcileReportQuery, "ReconcilePage"),
    retrieve=_retrieve_schema(s.ReconcileReportSerializer, "id", gettext_lazy("The report's id.")),
)
class ReconcileReportViewSet(ReadOnlyTenantViewSet):
    """Daily reconcile reports of the tenant's shops, newest first."""

    openapi_resource = openapi.RECONCILE_REPORTS

    serializer_class = s.ReconcileReportSerializer
    query_class = filters.ReconcileReportQuery
    ordering = ("-created_at", "-id")

    def tenant_queryset(self) -> QuerySet:
        return ReconcileReport.objects.for_tenant(self.tenant)


@extend_schema_view(
    list=_list_schema(
        s.PresaleReservationSerializer, filters.PresaleReservationQuery, "PresaleReservationPage"
    )
)
class PresaleReservationViewSet(TenantViewSet):
    """Units of each SKU held by the tenant's open presale trades; a list only."""

    openapi_resource = openapi.PRESALE_RESERVATIONS

    serializer_class = s.PresaleReservationSerializer
    query_class = filters.PresaleReservationQuery
    ordering = ("id",)
    list = ReadOnlyTenantViewSet.list
    render = ReadOnlyTenantViewSet.render

    def tenant_queryset(self) -> QuerySet:
        reservations = PresaleReservation.objects.for_tenant(self.tenant)
        sku = self.request.query_params.get("sku")  # validated by ``list`` first
        if sku:
            reservations = reservations.filter(Q(sku_id=sku) | Q(outer_sku_id=sku))
        return reservations


class ChangeViewSet(TenantViewSet):
    """The change feed."""

    openapi_resource = openapi.CHANGES

    serializer_class = s.ChangeSerializer

    def tenant_queryset(self) -> QuerySet:
        return self.tenant.change_events.all()

    @extend_schema(
        parameters=[filters.ChangeQuery, DEPRECATED_AFTER],
        responses={200: s.ChangePageSerializer, **ERRORS},
    )
    def list(self, request: Request) -> HttpResponse:
        params = filters.parse_query(request, filters.ChangeQuery)
        chosen = chosen_fields(params, s.ChangeSerializer)
        names = tuple(chosen or fastrows.CHANGE_NAMES)
        try:
            objects, cursor, has_more = read_changes_json(
                self.tenant,
                params.get("cursor"),
                params["limit"],
                params.get("shop"),
                fastrows.change_sql(names, fastrows.zone_literal()),
            )
        except InvalidCursor as exc:
            name = "after" if "after" in request.query_params else "cursor"
            raise serializers.ValidationError({name: [str(exc)]}) from None
        note_read(request.auth, cursor)  # consumer health: where this key's reader stands
        return json_page(objects, cursor, has_more)

    @extend_schema(
        parameters=[filters.AsOfQuery], responses={200: s.FeedCursorSerializer, **ERRORS}
    )
    @action(detail=False, methods=["get"], url_path="cursor")
    def cursor(self, request: Request) -> Response:
        params = filters.parse_query(request, filters.AsOfQuery)
        cursor = cursor_as_of(self.tenant, params["as_of"])
        return Response(s.FeedCursorSerializer({"cursor": cursor, "as_of": params["as_of"]}).data)
