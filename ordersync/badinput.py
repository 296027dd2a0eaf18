"""Query strings with NUL bytes are a 400 before any view sees them.

PostgreSQL cannot store or compare a text holding NUL (0x00): a filter or search of the
console that passed one on would fail in the database, a 500. No valid query parameter holds
one. The partner API (``/api/``) validates its own parameters and answers in its own error
shape, so it is left to do so.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RejectNulBytesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith("/api/") and _has_nul(request):
            return HttpResponseBadRequest("NUL characters are not allowed in the query string.")
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    return "\x00" in request.path_info or any(
        "\x00" in key or any("\x00" in value for value in values)
        for key, values in request.GET.lists()
    )
