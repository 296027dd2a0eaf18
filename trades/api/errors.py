"""The one error shape of the API.

Every error response is ``{"status": 400, "code": "invalid", "detail": "…", "errors": {…}}``:
``code`` is stable and machine-readable, ``detail`` is for people, and ``errors`` (only on
validation errors) maps each offending field or query parameter to its messages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.urls import Resolver404, resolve
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler

from shops.caps import OverCap

DETAIL_FOR_VALIDATION = _("The request has invalid fields or query parameters.")


class ErrorSerializer(serializers.Serializer):
    """Documents the error shape in the schema."""

    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def _field_errors(detail: object) -> dict[str, list[str]]:
    """``{field: [message, …]}`` from DRF's nested detail, with plain strings for people.

    A list item's error (``{0: [...]}`` from a ListField) says which item; a nested
    object's field is named with a dot.
    """
    errors: dict[str, list[str]] = {}
    _collect(detail, "", "", errors)
    return errors


def _collect(detail: object, field: str, item: str, errors: dict[str, list[str]]) -> None:
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):
                _collect(value, field, item + _("Item %(index)s: ") % {"index": key}, errors)
            else:
                _collect(value, f"{field}.{key}" if field else str(key), item, errors)
    elif isinstance(detail, list):
        for value in detail:
            _collect(value, field, item, errors)
    else:
        errors.setdefault(field or "non_field_errors", []).append(f"{item}{detail}")


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
            "detail": str(DETAIL_FOR_VALIDATION),
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
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Unmatched paths under the API answer in the API's error shape, not Django's HTML.

    A path that only lacks its trailing slash is answered as if it had it (any method):
    partners type ``/api/v1/trades``, and an empty redirect would lose them, their POST body
    or their Authorization header in many clients.
    """
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            pass
        else:
            if match.func is not api_not_found:
                return match.func(request, *match.args, **match.kwargs)
    body = {"status": 404, "code": "not_found", "detail": str(exceptions.NotFound.default_detail)}
    return JsonResponse(body, status=404)
