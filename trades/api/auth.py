"""Bearer API-key authentication, scope permissions and per-key throttling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from ordersync import ratelimit
from shops.audit.actor import key_actor, set_actor
from trades.api.key_models import ApiKey
from trades.api.keys import find_api_key, note_key_used

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema
    from rest_framework.views import APIView


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer osk_…``; ``request.auth`` is the :class:`ApiKey`."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            count_failure_of_address(request)
            return None
        scheme, _space, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip():
            count_failure_of_address(request)
            raise exceptions.AuthenticationFailed(_("Use 'Authorization: Bearer <API key>'."))
        key = find_api_key(token.strip())
        if key is None:
            count_failure_of_address(request)
            raise exceptions.AuthenticationFailed(_("Unknown, expired or revoked API key."))
        note_key_used(key)
        set_actor(key_actor(request, key.pk, key.name, key.prefix))
        # There is no user: a key acts for its tenant, not for the person who created it.
        return (None, key)

    def authenticate_header(self, request: Request) -> str:
        # makes DRF answer 401 (with WWW-Authenticate) rather than 403 without credentials
        return f'{self.keyword} realm="api"'


class HasApiKey(permissions.BasePermission):
    """Any usable key reads; writing needs the read-write scope."""

    message = _("This API key has the read scope; this request needs read_write.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated()
        return request.method in permissions.SAFE_METHODS or key.can_write


class HasWriteKey(HasApiKey):
    """Every method needs the read-write scope."""

    message = _("This API key has the read scope; this endpoint needs read_write.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return super().has_permission(request, view) and request.auth.can_write


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """A request budget per API key (``API_KEY_THROTTLE_RATE``), 429 with Retry-After past it.

    Counted by :func:`ordersync.ratelimit.hit`, one atomic statement per request in Redis or
    PostgreSQL, so the budget holds across threads, gunicorn workers and machines.
    """

    scope = "api_key"

    def __init__(self) -> None:
        # DRF's SimpleRateThrottle reads a cache here; our counts live in ordersync.ratelimit
        self.rate = self.get_rate()
        self.result: ratelimit.Hit | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        self.result = ratelimit.hit(f"key:{request.auth.pk}", ratelimit.parse_rate(self.rate))
        return self.result.allowed

    def wait(self) -> float | None:
        return self.result.retry_after if self.result else None


def count_failure_of_address(request: Request) -> None:
    """Count a request without a usable key against its client address; past the address's
    budget (``API_ADDRESS_THROTTLE_RATE``) answer 429 instead of 401.

    Only failures count, so partners behind one NAT never share a budget for their good
    requests, and a good key costs no extra statement. Guessing a key (256 random bits) is
    hopeless anyway; this bounds the load of anonymous and failing clients.
    """
    rate = ratelimit.parse_rate(
        ApiKeyRateThrottle.THROTTLE_RATES.get("address") or ratelimit.UNLIMITED
    )
    result = ratelimit.hit(f"address:{ratelimit.client_address(request)}", rate)
    if not result.allowed:
        raise exceptions.Throttled(wait=result.retry_after)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "trades.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, object]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A tenant's API key: `Authorization: Bearer osk_…`.",
        }
