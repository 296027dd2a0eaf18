"""The one error shape of the API.

Every error response is ``{"status": 400, "code": "invalid", "detail": "…", "errors": {…}}``:
``code`` is stable and machine-readable, ``detail`` is for people, and ``errors`` (only on
validation errors) maps each offending field or query parameter to its messages.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler

from shops.caps import OverCap

DETAIL_FOR_VALIDATION = "The request has invalid fields or query parameters."


class ErrorSerializer(serializers.Serializer):
    """Documents the error shape in the schema."""

    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def _field_errors(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(field): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            for field, msgs in detail.items()
        }
    messages = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(m) for m in messages]}


class CapReached(exceptions.APIException):
    """A per-tenant cap (shops/caps.py): 409 for a count, 429 with Retry-After for a rate."""

    default_code = "cap_reached"

    def __init__(self, over: OverCap) -> None:
        super().__init__(str(over), self.default_code)
        self.status_code = over.status
        self.wait = getattr(over, "retry_after", None)  # DRF's handler sends Retry-After


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler (headers such as Retry-After and WWW-Authenticate) with our body."""
    if isinstance(exc, OverCap):
        exc = CapReached(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "status": response.status_code,
            "code": "invalid",
            "detail": DETAIL_FOR_VALIDATION,
            "errors": _field_errors(exc.detail),
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = {
            "status": response.status_code,
            "code": getattr(detail, "code", None) or "error",
            "detail": str(detail),
        }
    response.data = body
    return response


@csrf_exempt  # the API uses no cookies; a POST to an unknown path is a 404, not a CSRF 403
def api_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Unmatched paths under the API answer in the API's error shape, not Django's HTML.

    A path that only lacks its trailing slash is redirected (308 keeps the method and body),
    as APPEND_SLASH would have done had this catch-all not matched first.
    """
    if not request.path.endswith("/"):
        try:
            resolve(request.path + "/")
        except Resolver404:
            pass
        else:
            query = request.META.get("QUERY_STRING", "")
            target = request.path + "/" + (f"?{query}" if query else "")
            return HttpResponsePermanentRedirect(target, status=308)
    return JsonResponse({"status": 404, "code": "not_found", "detail": "Not found."}, status=404)
