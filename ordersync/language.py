"""Which language a request is answered in.

The console speaks the language its user picked with the switch (a cookie), else the
service's ``LANGUAGE_CODE``: an operator sets the language of the service (``zh-hans`` for a
Chinese team, as the demo does) and every page opens in it, whatever language the browser
itself was installed in. The partner API follows ``Accept-Language`` only and answers in
English when it names none of ours: a partner's program must not change what it reads
because someone set the console's default or a cookie. Codes never change, only ``detail``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware import locale
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

API_PREFIX = "/api/"
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
    """Activates the request's language; Django's response handling (``Content-Language``)."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(API_PREFIX):
            language = accepted_language(request.headers.get("accept-language", ""))
        else:
            language = console_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
