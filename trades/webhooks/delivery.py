"""Delivering webhooks: claim due deliveries, POST them signed, record every attempt.

Claiming moves a delivery's ``next_attempt_at`` past a lease, in one short statement with
``FOR UPDATE SKIP LOCKED``, and commits; the HTTP requests run outside any transaction; the
results are recorded in one transaction per batch. A worker killed between claim and record
loses nothing: its deliveries fall due again when the lease runs out (at least once).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from trades.webhooks import payload
from trades.webhooks.deadline import Deadline
from trades.webhooks.guard import AddressRefused, check_url, guarded_session
from trades.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSecret,
)
from trades.webhooks.signing import signature_headers

log = logging.getLogger(__name__)

RESPONSE_READ_LIMIT = 4096  # bytes of a response read at most
RESPONSE_KEEP = 1000  # characters of it stored with the attempt
Outcome = WebhookAttempt.Outcome


@dataclass(frozen=True)
class Job:
    """One claimed delivery, ready to send: everything the HTTP request needs."""

    delivery_id: int
    endpoint_id: int
    attempt: int
    url: str
    msg_id: str
    body: bytes
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    job: Job
    started_at: datetime
    duration_ms: int
    outcome: str
    status_code: int | None = None
    response_body: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.SUCCESS


LEASE_MARGIN = 5.0


def request_seconds() -> float:
    """The most one request may take in all (connect, send, answer), enforced by a deadline:
    a receiver trickling its answer cannot stretch it past what the lease counts on."""
    return 2 * settings.WEBHOOKS_TIMEOUT


def lease_seconds(batch: int) -> float:
    """How long a claim of ``batch`` deliveries holds: longer than sending them can take
    (rounds of ``WEBHOOKS_CONCURRENCY`` requests, each at most ``request_seconds``)."""
    rounds = -(-batch // settings.WEBHOOKS_CONCURRENCY)
    return rounds * request_seconds() + LEASE_MARGIN


_DELIVERY = WebhookDelivery._meta.db_table
_ENDPOINT = WebhookEndpoint._meta.db_table
# Served by ``webhookdelivery_due_idx``; a disabled endpoint's deliveries wait. The statement's
# clock_timestamp(), not now() (a surrounding transaction's start), taken once in a subquery
# so the index can use it.
_CLAIM_SQL = f"""
    UPDATE {_DELIVERY} d
    SET attempts = d.attempts + 1,
        next_attempt_at = clock_timestamp() + make_interval(secs => %s)
    WHERE d.id IN (
        SELECT due.id FROM {_DELIVERY} due JOIN {_ENDPOINT} e ON e.id = due.endpoint_id
        WHERE due.state = 'pending' AND due.next_attempt_at <= (SELECT clock_timestamp())
          AND e.is_active {{only}}
        ORDER BY due.next_attempt_at
        LIMIT %s
        FOR UPDATE OF due SKIP LOCKED
    )
    RETURNING d.id, d.endpoint_id, d.event_id, d.attempts
"""


def claim(limit: int, delivery_ids: list[int] | None = None) -> list[Job]:
    """Claim up to ``limit`` due deliveries (of ``delivery_ids`` only, if given)."""
    only, params = "", [lease_seconds(limit)]
    if delivery_ids is not None:
        only, params = "AND due.id = ANY(%s::bigint[])", [*params, delivery_ids]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL.format(only=only), [*params, limit])
        rows = cursor.fetchall()
    return _jobs(rows) if rows else []


def _jobs(rows: list[tuple]) -> list[Job]:
    endpoint_ids = {row[1] for row in rows}
    urls = dict(WebhookEndpoint.objects.filter(pk__in=endpoint_ids).values_list("pk", "url"))
    secrets = active_secrets(endpoint_ids)
    events = WebhookEvent.objects.select_related("tenant").in_bulk({row[2] for row in rows})
    return [
        Job(
            delivery_id=delivery_id,
            endpoint_id=endpoint_id,
            attempt=attempt,
            url=urls[endpoint_id],
            msg_id=events[event_id].public_id,
            body=payload.render(events[event_id], events[event_id].tenant.slug),
            secrets=secrets.get(endpoint_id, ()),
        )
        for delivery_id, endpoint_id, event_id, attempt in rows
        # an endpoint deleted since the claim took its deliveries along: nothing to send
        if endpoint_id in urls and event_id in events
    ]


def active_secrets(endpoint_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Each endpoint's secrets that still sign, newest first."""
    now = timezone.now()
    found: dict[int, tuple[str, ...]] = {}
    rows = (
        WebhookSecret.objects.filter(endpoint_id__in=endpoint_ids)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at", "-id")
    )
    for row in rows:
        found[row.endpoint_id] = (*found.get(row.endpoint_id, ()), row.secret)
    return found


_local = threading.local()


def _session() -> requests.Session:
    # one keep-alive session per sending thread: a Session is not meant to be shared
    if getattr(_local, "session", None) is None:
        _local.session = guarded_session()
    return _local.session


def send(job: Job) -> Result:
    """POST one job; never raises: whatever goes wrong is this job's attempt, recorded with
    it, and cannot touch the other jobs of its batch (a batch holds many tenants' jobs)."""
    started, clock = timezone.now(), time.monotonic()

    def done(outcome: str, **fields: Any) -> Result:
        duration = int((time.monotonic() - clock) * 1000)
        return Result(job, started, duration, outcome, **fields)

    try:
        return _post(job, done)
    except Exception:
        log.exception("webhook delivery %s (endpoint %s) failed", job.delivery_id, job.endpoint_id)
        return done(Outcome.CONNECTION_ERROR, error="the request could not be made")


def _post(job: Job, done: Callable[..., Result]) -> Result:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ordersync-webhooks/1",
        **signature_headers(job.secrets, job.msg_id, job.body),
    }
    timeout = settings.WEBHOOKS_TIMEOUT
    with Deadline(request_seconds()) as deadline:
        try:
            check_url(job.url)
            with _session().post(
                job.url,
                data=job.body,
                headers=headers,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            ) as response:
                # cut headers end at the shutdown like complete ones: only a status that
                # arrived before the deadline counts
                cut = deadline.tripped
                code = response.status_code
                location = response.headers.get("Location", "")
                text = _read_answer(response, deadline)
        except AddressRefused as exc:
            # the details (host, addresses) are ours to see, not the tenant's
            log.info("webhook delivery %s refused: %s", job.delivery_id, exc)
            return done(Outcome.REFUSED, error=exc.reason)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if deadline.tripped:
                return done(Outcome.TIMEOUT, error=_too_slow(deadline))
            if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError):
                return done(Outcome.TIMEOUT, error=f"no answer within {timeout:g}s")
            log.info("webhook delivery %s: %s: %s", job.delivery_id, type(exc).__name__, exc)
            return done(Outcome.CONNECTION_ERROR, error=connection_error(exc, job.url))
    if cut:
        return done(Outcome.TIMEOUT, error=_too_slow(deadline))
    return done(_classify(code), status_code=code, response_body=text, error=_error(code, location))


def connection_error(exc: BaseException, url: str = "") -> str:
    """What a tenant is told of a failed connection: its kind and the endpoint's own host,
    not the exception's text (``gaierror: [Errno -2] …``, which may name addresses the host
    resolved to, or our own network)."""
    causes = _causes(exc)
    if any(isinstance(c, socket.gaierror | urllib3.exceptions.NameResolutionError) for c in causes):
        host = urlsplit(url).hostname or "the host"
        return f"connection failed: could not resolve host {host} (DNS)"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection failed: connection refused"
    if any(isinstance(c, ssl.SSLError | requests.exceptions.SSLError) for c in causes):
        return "connection failed: TLS error (certificate or handshake)"
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return "connection failed: connection reset"
    return "connection failed"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (causes, contexts, urllib3's ``reason``)."""
    found: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(found) < 20:
        current = todo.pop()
        if not isinstance(current, BaseException) or current in found:
            continue
        found.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        todo += list(current.args[:1])
    return found


def _too_slow(deadline: Deadline) -> str:
    return f"no complete answer within {deadline.seconds:g}s in all"


def _read_answer(response: requests.Response, deadline: Deadline) -> str:
    """The start of the response body. Its status has arrived, so a body still trickling in
    at the deadline is cut there and the status stands."""
    raw = b""
    try:
        # read1 hands over what has come so far, so a cut answer keeps its start
        while len(raw) < RESPONSE_READ_LIMIT:
            chunk = response.raw.read1(RESPONSE_READ_LIMIT - len(raw), decode_content=True)
            if not chunk:
                break
            raw += chunk
    except (urllib3.exceptions.HTTPError, OSError):
        if not deadline.tripped:
            raise
    return raw.decode("utf-8", "replace")[:RESPONSE_KEEP]


def _classify(code: int) -> str:
    if 200 <= code < 300:
        return Outcome.SUCCESS
    if code == 410:
        return Outcome.GONE
    if 300 <= code < 400:
        return Outcome.REDIRECT
    return Outcome.HTTP_ERROR


def _error(code: int, location: str) -> str:
    if 200 <= code < 300:
        return ""
    if 300 <= code < 400:
        return f"HTTP {code}: redirect to {location[:300]} not followed"
    return f"HTTP {code}"


_executor: ThreadPoolExecutor | None = None


def send_all(jobs: list[Job]) -> list[Result]:
    """Send the jobs ``WEBHOOKS_CONCURRENCY`` at a time; results in the jobs' order."""
    global _executor
    if len(jobs) == 1:
        return [send(jobs[0])]
    if _executor is None:
        _executor = ThreadPoolExecutor(settings.WEBHOOKS_CONCURRENCY, "webhook")
    return list(_executor.map(send, jobs))
