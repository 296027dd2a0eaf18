"""Secrets shown once in the console (a new API key's token, a webhook signing secret).

Django's messages travel in a cookie by default: signed, not encrypted, so a token in one
would sit readable in the browser, in proxies' and tools' logs of headers, and be sent back
on every request until read. A one-time secret waits instead in the user's session, which
is stored on the server (``SESSION_ENGINE`` must not be the signed-cookie one: a system
check refuses it), encrypted like every stored secret, and is removed when a console page
shows it.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.http import HttpRequest

from ordersync.crypto import decrypt, encrypt

SESSION_KEY = "console_one_time_secrets"
COOKIE_SESSIONS = "django.contrib.sessions.backends.signed_cookies"


def show_once(request: HttpRequest, label: str, secret: str) -> None:
    """Keep ``secret`` (introduced by ``label``) for the next console page, and only that."""
    pending = request.session.get(SESSION_KEY, [])
    request.session[SESSION_KEY] = [*pending, {"label": label, "secret": encrypt(secret)}]


def take_secrets(request: HttpRequest) -> list[dict[str, str]]:
    """The secrets waiting to be shown, with their labels; they leave the session now."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return []
    return [
        {"label": item["label"], "secret": decrypt(item["secret"])}
        for item in session.pop(SESSION_KEY)
    ]


@checks.register(checks.Tags.security)
def check_sessions_stay_on_the_server(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """One-time secrets wait in the session: a cookie session would send them to the browser."""
    if settings.SESSION_ENGINE != COOKIE_SESSIONS:
        return []
    return [
        checks.Error(
            "SESSION_ENGINE stores sessions in a cookie; the console keeps one-time secrets "
            "(new API keys, webhook secrets) in the session, so it must stay on the server.",
            id="ordersync.E001",
        )
    ]
