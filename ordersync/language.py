"""Which language a request is answered in.

The console follows Django's order: the language switch's cookie, the browser's
``Accept-Language``, then ``LANGUAGE_CODE``. The partner API follows ``Accept-Language`` only
and answers in English when it names none of ours: a partner's program must not change what
it reads because someone set the console's default or a cookie.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware import locale
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

API_PREFIX = "/api/"
API_DEFAULT = "en"


def accepted_language(header: str, default: str = API_DEFAULT) -> str:
    """The first of our languages an ``Accept-Language`` header names, else ``default``."""
    for code, _quality in parse_accept_lang_header(header):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return default


class LocaleMiddleware(locale.LocaleMiddleware):
    """Django's ``LocaleMiddleware`` for the console; ``Accept-Language`` alone for the API."""

    def process_request(self, request: HttpRequest) -> None:
        if not request.path_info.startswith(API_PREFIX):
            super().process_request(request)
            return
        language = accepted_language(request.headers.get("accept-language", ""))
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
