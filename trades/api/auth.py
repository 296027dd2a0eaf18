"""Bearer API-key authentication, scope permissions and per-key throttling."""

from __future__ import annotations

from django.core.cache import caches
from django.utils.connection import ConnectionProxy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from trades.api.keys import find_api_key, note_key_used
from trades.key_models import ApiKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer osk_…``; ``request.auth`` is the :class:`ApiKey`."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <API key>'.")
        key = find_api_key(token.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown, expired or revoked API key.")
        note_key_used(key)
        # There is no user: a key acts for its tenant, not for the person who created it.
        return (None, key)

    def authenticate_header(self, request: Request) -> str:
        # makes DRF answer 401 (with WWW-Authenticate) rather than 403 without credentials
        return f'{self.keyword} realm="api"'


class HasApiKey(permissions.BasePermission):
    """Any usable key reads; writing needs the read-write scope."""

    message = "This API key has the read scope; this request needs read_write."

    def has_permission(self, request: Request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated()
        return request.method in permissions.SAFE_METHODS or key.can_write


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """A request budget per API key (``API_KEY_THROTTLE_RATE``), 429 with Retry-After past it.

    The counts live in the "shared" cache (Redis or a PostgreSQL table), so the budget holds
    across gunicorn workers and machines rather than per process.
    """

    scope = "api_key"
    cache = ConnectionProxy(caches, "shared")  # per thread, as Django's own default_cache

    def get_cache_key(self, request: Request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "trades.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A tenant's API key: `Authorization: Bearer osk_…`.",
        }
