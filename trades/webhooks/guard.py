"""Keeping webhook requests away from our own network (SSRF).

A tenant chooses the URL, so without a guard it could make our workers call the database,
a cloud metadata service (169.254.169.254) or anything else behind the firewall. Two checks:
every address the host resolves to must be public before we send, and the socket we actually
connect must be to a public address (a second DNS answer can differ from the first: DNS
rebinding). ``WEBHOOKS_ALLOW_PRIVATE`` turns both off, for development and tests;
``WEBHOOKS_ALLOW_LOOPBACK`` (the demo, never with ``DEBUG=False``) lets loopback through.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import idna
import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from trades.webhooks.deadline import WatchedConnection


class AddressRefused(Exception):
    """The URL leads to a private, loopback, link-local or otherwise non-public address.

    Deliberately not an ``OSError``: urllib3 would take it for a network failure and retry.
    The message names the host and addresses, for our logs; tenants are shown ``reason``,
    which names neither (they would learn our internal names and addresses from it).
    """

    reason = "refused: the URL's host is not a public address"


class BadURL(AddressRefused):
    """The URL cannot be requested at all. The message completes "the URL …" and is safe
    to show: it only judges what the tenant typed."""

    @property
    def reason(self) -> str:
        return f"refused: the URL {self}"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # ASCII, as it is resolved (IDNA-encoded like requests does)
    port: int


_DEFAULT_PORTS = {"http": 80, "https": 443}
_PORT_OUT_OF_RANGE = "has a port that is not a number from 1 to 65535"


def parse_url(url: str) -> Target:
    """Where a request to ``url`` would go; raise :class:`BadURL` saying why it cannot go
    anywhere (not http(s), no host, a port out of range, a host IDNA cannot encode)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a port out of range or not a number, a broken [IPv6]
        raise BadURL(_PORT_OUT_OF_RANGE if "Port" in str(exc) else "is not valid") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise BadURL("must be an http:// or https:// URL")
    if port == 0:
        raise BadURL(_PORT_OUT_OF_RANGE)
    return Target(parts.scheme, _ascii_host(parts.hostname), port or _DEFAULT_PORTS[parts.scheme])


def _ascii_host(host: str) -> str:
    """The host as requests sends it and the resolver looks it up: a non-ASCII name
    IDNA-encoded (UTS 46, as requests does), every label 1-63 characters."""
    try:
        if not host.isascii():
            host = idna.encode(host, uts46=True).decode("ascii")
        host.encode("idna")  # the codec getaddrinfo applies: refuses empty and long labels
    except UnicodeError:  # idna.IDNAError is one
        raise BadURL("has a host name that cannot be IDNA-encoded") from None
    return host


# IPv6 ranges whose last 32 bits are an IPv4 address that a translator or the host itself
# would reach: NAT64 (RFC 6052, and its local-use /48 of RFC 8215), SIIT's IPv4-translated
# addresses (RFC 2765) and the deprecated IPv4-compatible ones (RFC 4291, ``::a.b.c.d``).
_EMBEDDING_LAST_32_BITS = tuple(
    ipaddress.IPv6Network(net)
    for net in ("64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96", "::/96")
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to, if it embeds any: IPv4-mapped, NAT64,
    SIIT, IPv4-compatible, 6to4 (``2002::/16``) and Teredo (``2001::/32``: its server and
    its client). Empty for a plain IPv6 address."""
    if ip.ipv4_mapped:
        return [ip.ipv4_mapped]
    if ip.sixtofour:
        return [ip.sixtofour]
    if ip.teredo:
        return list(ip.teredo)
    if any(ip in net for net in _EMBEDDING_LAST_32_BITS):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def is_public(address: str) -> bool:
    """Whether an address is one webhooks may reach: global unicast, judged for an IPv6 form
    that embeds IPv4 by the IPv4 inside (``64:ff9b::10.0.0.1`` reaches 10.0.0.1)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inside = embedded_ipv4(ip)
        if inside:
            return all(_is_global(v4) for v4 in inside)
    return _is_global(ip)


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def is_loopback(address: str) -> bool:
    """127.0.0.0/8 and ``::1``, also inside an IPv6 form that embeds IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.is_loopback:
        return True
    inside = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else []
    return bool(inside) and all(v4.is_loopback for v4 in inside)


def allowed(address: str) -> bool:
    """Whether webhooks may reach ``address`` under the current settings."""
    if settings.WEBHOOKS_ALLOW_PRIVATE or is_public(address):
        return True
    return settings.WEBHOOKS_ALLOW_LOOPBACK and is_loopback(address)


def check_url(url: str) -> None:
    """Raise :class:`AddressRefused` unless every address of the URL's host is allowed
    (:class:`BadURL` if the URL cannot be requested at all).

    A host that does not resolve raises ``socket.gaierror`` (a connection error, retried).
    """
    target = parse_url(url)
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return
    infos = socket.getaddrinfo(target.host, target.port, proto=socket.IPPROTO_TCP)
    refused = sorted({info[4][0] for info in infos if not allowed(info[4][0])})
    if refused:
        raise AddressRefused(f"{target.host} resolves to non-public {', '.join(refused)}")


def _checked(connection: HTTPConnection, sock: socket.socket) -> socket.socket:
    peer = sock.getpeername()[0]
    if not allowed(peer):
        sock.close()
        raise AddressRefused(f"{connection.host} connected to non-public {peer}")
    return sock


# WatchedConnection: the request's total deadline (trades/webhooks/deadline.py)
class _GuardedHTTPConnection(WatchedConnection, HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(self, super()._new_conn())


class _GuardedHTTPSConnection(WatchedConnection, HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(self, super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def guarded_session() -> requests.Session:
    """A session whose connections only reach allowed addresses, with no proxies from the
    environment (a proxy would connect on our behalf, past the guard)."""
    session = requests.Session()
    session.trust_env = False
    adapter = _GuardedAdapter(pool_connections=4, pool_maxsize=4, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
