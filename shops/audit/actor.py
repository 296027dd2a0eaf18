"""Who is acting right now: set per request (middleware, API key authentication), per
command or task; nothing set means the service itself (``system``)."""

from __future__ import annotations

import contextvars
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

from django.http import HttpRequest, HttpResponse

from ordersync.ratelimit import client_address
from shops.audit.models import ActorKind


@dataclass(frozen=True)
class Actor:
    kind: str
    label: str
    user_id: int | None = None
    key_id: int | None = None
    ip: str | None = None
    user_agent: str = ""


SYSTEM = Actor(ActorKind.SYSTEM, "system")
_current: contextvars.ContextVar[Actor] = contextvars.ContextVar("audit_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    """Record what happens inside as done by ``actor``."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def set_actor(actor: Actor) -> None:
    """Replace the actor for the rest of the current ``acting`` block (API authentication
    runs inside the request's block and names the key)."""
    _current.set(actor)


def command_actor(name: str) -> Actor:
    """An operator running ``manage.py name`` on a host: the OS user is all there is to say."""
    return Actor(ActorKind.SYSTEM, f"manage.py {name} ({getpass.getuser()})"[:200])


def _where(request: HttpRequest) -> dict[str, Any]:
    address = client_address(request)
    try:
        ip: str | None = str(ip_address(address))
    except ValueError:
        ip = None
    return {"ip": ip, "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300]}


def user_actor(request: HttpRequest) -> Actor:
    """The signed-in user of a console request (anonymous when nobody is)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Actor(ActorKind.ANONYMOUS, "anonymous", **_where(request))
    kind = ActorKind.OPERATOR if user.is_superuser else ActorKind.MEMBER
    return Actor(kind, user.get_username(), user_id=user.pk, **_where(request))


def key_actor(request: HttpRequest, key_id: int, name: str, prefix: str) -> Actor:
    """An API key acting for its tenant (a key has no user)."""
    return Actor(ActorKind.API_KEY, f"{name} ({prefix}…)"[:200], key_id=key_id, **_where(request))


class AuditActorMiddleware:
    """Every request acts as its signed-in user until an API key names itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting(user_actor(request)):
            return self.get_response(request)
