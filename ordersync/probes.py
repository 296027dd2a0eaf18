"""``/healthz`` and ``/metrics`` answered whatever the request's Host header.

Container healthchecks probe ``127.0.0.1:8000`` and Prometheus scrapes ``web:8000``, while
``ALLOWED_HOSTS`` names the public host: behind CommonMiddleware every probe would get 400.
Skipping the Host check here is safe because these two views never use the host: they build
no URL, redirect nowhere, set no cookie and render nothing cacheable per host. Every other
path still goes through the full middleware stack and its Host validation.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ordersync import observability

PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": observability.healthz,
    "/metrics": observability.metrics,
}


class ProbeMiddleware:
    """Placed first in MIDDLEWARE, so nothing before it reads the Host header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        return probe(request)
