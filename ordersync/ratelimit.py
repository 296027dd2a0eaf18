"""Request budgets every process agrees on: one atomic counter per key and window.

Each call of :func:`hit` counts one request and returns the count in one round trip: a single
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement in PostgreSQL, or ``INCR`` in Redis
when ``REDIS_URL`` is set. No read-then-write, so concurrent requests of one key (threads,
gunicorn workers, machines) can never both see the same count: the budget holds exactly.

Windows are fixed and start at a key's first request after the previous window ended: at most
``requests`` are allowed from that moment for ``seconds``. (A client that spends its budget at
the end of one window and again at the start of the next gets two budgets within one period;
sliding windows would need a row per request.) Expired PostgreSQL rows are deleted by
:func:`prune`, which the heartbeat schedule runs every minute.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import caches
from django.db import connection

from ordersync.models import RateCounter

if TYPE_CHECKING:
    from django.http import HttpRequest
    from redis import Redis

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE_PATTERN = r"[0-9]+/[smhd][a-z]*"
UNLIMITED = f"{2**31 - 1}/s"


@dataclass(frozen=True)
class Rate:
    requests: int
    seconds: int


@dataclass(frozen=True)
class Hit:
    """One counted request: the count in its window so far, and when the window ends."""

    count: int
    budget: int
    window_left: float  # seconds

    @property
    def allowed(self) -> bool:
        return self.count <= self.budget

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait before the next request can be allowed (at least 1)."""
        return max(1, math.ceil(self.window_left))


def parse_rate(text: str) -> Rate:
    """``"1200/min"`` → 1200 requests per 60 seconds (DRF's format: the period's first letter)."""
    if not re.fullmatch(RATE_PATTERN, text):
        raise ValueError(f"{text!r} is not requests/period such as 1200/min")
    requests, period = text.split("/")
    return Rate(int(requests), PERIODS[period[0]])


# ``statement_timestamp()`` once (as EXCLUDED.window_ends - the period), so both CASEs agree
# on whether the old window is over.
_HIT_SQL = f"""
    INSERT INTO {RateCounter._meta.db_table} AS c (key, window_ends, hits)
    VALUES (%(key)s, statement_timestamp() + make_interval(secs => %(seconds)s), 1)
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN c.window_ends <= EXCLUDED.window_ends - make_interval(secs => %(seconds)s)
                    THEN 1 ELSE c.hits + 1 END,
        window_ends = CASE
            WHEN c.window_ends <= EXCLUDED.window_ends - make_interval(secs => %(seconds)s)
            THEN EXCLUDED.window_ends ELSE c.window_ends END
    RETURNING hits, EXTRACT(EPOCH FROM window_ends - statement_timestamp())::float8
"""


def hit(key: str, rate: Rate) -> Hit:
    """Count one request of ``key`` against ``rate``; the caller refuses it if not allowed."""
    if settings.REDIS_URL:
        count, left = _hit_redis(key, rate.seconds)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_HIT_SQL, {"key": key, "seconds": rate.seconds})
            count, left = cursor.fetchone()
    return Hit(count=count, budget=rate.requests, window_left=left)


def _hit_redis(key: str, seconds: int) -> tuple[int, float]:
    name, client = _redis(key)
    # MULTI/EXEC: the window is created with its expiry and counted in one atomic step
    pipe = client.pipeline(transaction=True)
    pipe.set(name, 0, ex=seconds, nx=True)
    pipe.incr(name)
    pipe.pttl(name)
    _, count, left_ms = pipe.execute()
    if left_ms < 0:  # cannot happen inside MULTI; never leave a counter without expiry
        client.expire(name, seconds)
        left_ms = seconds * 1000
    return count, left_ms / 1000


def reset(key: str) -> None:
    """Forget the count of ``key`` (its next request opens a new window)."""
    if settings.REDIS_URL:
        name, client = _redis(key)
        client.delete(name)
    else:
        RateCounter.objects.filter(key=key).delete()


def _redis(key: str) -> tuple[str, Redis]:
    """The shared cache's name for the counter of ``key``, and the redis-py client to use."""
    cache = caches["shared"]
    name = cache.make_and_validate_key(f"rate:{key}")
    # the client of Django's RedisCache is a private attribute (left out of its stubs)
    return name, cache._cache.get_client(name, write=True)  # type: ignore[attr-defined]


def prune() -> int:
    """Delete the counters whose window is over, and expired rows of the shared cache table;
    return how many counters went. Without it every key or address ever seen keeps a row."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {RateCounter._meta.db_table} WHERE window_ends < statement_timestamp()"
        )
        deleted: int = cursor.rowcount
        cursor.execute(f"DELETE FROM {settings.SHARED_CACHE_TABLE} WHERE expires < now()")
    return deleted


def client_address(request: HttpRequest) -> str:
    """The client's IP: the connection's, or the one ``NUM_PROXIES`` trusted proxies saw.

    ``X-Forwarded-For`` is only read when proxies are declared, and then counted from the
    right (the part our own proxies appended): a client cannot choose its address by sending
    the header itself.
    """
    remote: str = request.META.get("REMOTE_ADDR") or "unknown"
    proxies = settings.NUM_PROXIES
    forwarded: str = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))][:64]
    return remote[:64]
