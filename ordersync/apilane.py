"""The partner API's own middleware stack: ``API_MIDDLEWARE`` for ``/api/``, ``MIDDLEWARE``
for everything else.

A partner request carries its key in the Authorization header and nothing else: the API
reads no cookie, no session, no signed-in user and no message, and its views are exempt from
CSRF (with no cookie there is nothing a forged request could ride on). Sessions, CSRF,
Django's users, messages and the static-file lookup did nothing for it and cost more of each
API request than its permission and scope checks. :class:`ApiLaneMiddleware`, early in
``MIDDLEWARE``, hands every request under ``/api/`` to ``API_MIDDLEWARE`` instead, which keeps
what the API does need: the HTTPS redirect and security headers, the Host check, the language
of ``Accept-Language``, the audit actor and ``X-Frame-Options``. URL resolution, views and
turning exceptions into responses are Django's own, as on the console's stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.module_loading import import_string

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


class ApiHandler(BaseHandler):
    """Django's request handling behind ``API_MIDDLEWARE`` rather than ``MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware reads settings.MIDDLEWARE; this is its synchronous
        # part (gunicorn's sync workers, the test client) over the API's list
        if is_async:
            raise ImproperlyConfigured("API_MIDDLEWARE is served by WSGI only")
        self._view_middleware: list = []
        self._template_response_middleware: list = []
        self._exception_middleware: list = []
        # the view's part of Django's handling (left out of django-stubs)
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(settings.API_MIDDLEWARE):
            factory = import_string(path)
            if not getattr(factory, "sync_capable", True):
                raise ImproperlyConfigured(f"API_MIDDLEWARE: {path} cannot run synchronously")
            middleware = factory(handler)
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler

    def respond(self, request: HttpRequest) -> HttpResponseBase:
        # a synchronous chain (load_middleware refuses async), so never an awaitable
        return cast(HttpResponseBase, self._middleware_chain(request))


class ApiLaneMiddleware:
    """Requests under ``/api/`` leave ``MIDDLEWARE`` here for ``API_MIDDLEWARE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.api = ApiHandler()
        self.api.load_middleware()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if is_api(request):
            return self.api.respond(request)
        return self.get_response(request)
