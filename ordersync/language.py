"""Which language a request is answered in.

The console speaks the language its user picked with the switch (a cookie), else the
service's ``LANGUAGE_CODE``: an operator sets the language of the service (``zh-hans`` for a
Chinese team, as the demo does) and every page opens in it, whatever language the browser
itself was installed in. The partner API follows ``Accept-Language`` only and answers in
English when it names none of ours: a partner's program must not change what it reads
because someone set the console's default or a cookie. Codes never change, only ``detail``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware import locale
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import parse_accept_lang_header

API_DEFAULT = "en"


def supported(code: str | None) -> str | None:
    """Our variant of a language code (``zh-cn`` → ``zh-hans``), or None."""
    try:
        return translation.get_supported_language_variant(code) if code else None
    except LookupError:
        return None


def accepted_language(header: str, default: str = API_DEFAULT) -> str:
    """The first of our languages an ``Accept-Language`` header names, else ``default``."""
    for code, _quality in parse_accept_lang_header(header):
        if code == "*":
            break
        found = supported(code)
        if found:
            return found
    return default


def console_language(request: HttpRequest) -> str:
    """The switch's choice (its cookie), else ``LANGUAGE_CODE``."""
    chosen = supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
    return chosen or supported(settings.LANGUAGE_CODE) or API_DEFAULT


class LocaleMiddleware(locale.LocaleMiddleware):
    """The console's language; Django's response handling (``Content-Language``)."""

    def process_request(self, request: HttpRequest) -> None:
        translation.activate(console_language(request))
        request.LANGUAGE_CODE = translation.get_language()


class ApiLocaleMiddleware:
    """The partner API's language (``API_MIDDLEWARE``): its answer says which one it is in
    (``Content-Language``) and that it depends on ``Accept-Language`` (``Vary``), as Django's
    LocaleMiddleware says it where no URL carries a language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        translation.activate(accepted_language(request.headers.get("accept-language", "")))
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
