"""Keeping webhook requests away from our own network (SSRF).

A tenant chooses the URL, so without a guard it could make our workers call the database,
a cloud metadata service (169.254.169.254) or anything else behind the firewall. Two checks:
every address the host resolves to must be public before we send, and the socket we actually
connect must be to a public address (a second DNS answer can differ from the first: DNS
rebinding). ``WEBHOOKS_ALLOW_PRIVATE`` turns both off, for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from trades.webhooks.deadline import WatchedConnection


class AddressRefused(Exception):
    """The URL leads to a private, loopback, link-local or otherwise non-public address.

    Deliberately not an ``OSError``: urllib3 would take it for a network failure and retry.
    """


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _allowed(address: str) -> bool:
    return settings.WEBHOOKS_ALLOW_PRIVATE or is_public(address)


def check_url(url: str) -> None:
    """Raise :class:`AddressRefused` unless every address of the URL's host is allowed.

    A host that does not resolve raises ``socket.gaierror`` (a connection error, retried).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused(f"not an http(s) URL: {url[:200]}")
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    refused = sorted({info[4][0] for info in infos if not is_public(info[4][0])})
    if refused:
        raise AddressRefused(f"{parts.hostname} resolves to non-public {', '.join(refused)}")


def _checked(connection, sock: socket.socket) -> socket.socket:
    peer = sock.getpeername()[0]
    if not _allowed(peer):
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
    def init_poolmanager(self, *args, **kwargs) -> None:
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
