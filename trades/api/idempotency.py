"""``Idempotency-Key`` on POST: a repeat of a request that succeeded gets its first answer.

A client that lost an answer (a timeout, a dropped connection) sends the same request again
with the same key and is told what happened instead of creating a second thing. Keys are per
tenant and kept :data:`KEEP` after first use. Only successful (2xx) answers are kept: after
an error the claim is dropped, so the same key can be sent again with a corrected body.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from ordersync import crypto
from shops.models import Tenant
from trades.api.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEEP = timedelta(hours=24)
PRUNE_BATCH = 100


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = _(
        "This Idempotency-Key was used for a different request (method, path or body); "
        "use a new key for a new request."
    )


class KeyInUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"
    default_detail = _("A request with this Idempotency-Key is still running; retry shortly.")


class Replayed(Exception):
    """Carries the first answer of a repeated request out of ``initial``."""

    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass
class Claim:
    record: IdempotencyKey


def fingerprint(request: Request) -> str:
    """SHA-256 of what makes a request the same one: method, path (either slash form), body."""
    digest = hashlib.sha256(f"{request.method}\0{request.path.rstrip('/')}\0".encode())
    digest.update(request._request.body)
    return digest.hexdigest()


def claim(request: Request, tenant: Tenant) -> Claim | None:
    """The request's claim on its key, or ``None`` without a key.

    Raises :class:`Replayed` with the first answer for a repeat, :class:`KeyReused` for a key
    sent with another request, :class:`KeyInUse` while the first request runs.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError(
            {HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} characters (a UUID is a good choice)."]}
        )
    now = timezone.now()
    _prune(tenant, now)
    wanted = fingerprint(request)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    tenant=tenant, key=key, fingerprint=wanted, expires_at=now + KEEP
                )
            return Claim(record)
        except IntegrityError:
            record = IdempotencyKey.objects.filter(tenant=tenant, key=key).first()
        if record is None or record.expires_at <= now:
            IdempotencyKey.objects.filter(tenant=tenant, key=key, expires_at__lte=now).delete()
            continue  # gone or expired: claim it afresh
        if record.fingerprint != wanted:
            raise KeyReused()
        if record.status_code is None:
            raise KeyInUse()
        raise Replayed(_replay(record))
    raise KeyInUse()


def finish(current: Claim, response: Response) -> None:
    """Keep a successful answer for repeats; drop the claim of any other."""
    if not 200 <= response.status_code < 300:
        current.record.delete()
        return
    record = current.record
    record.status_code = response.status_code
    body = json.dumps(response.data, cls=DjangoJSONEncoder) if response.data is not None else ""
    record.body = crypto.encrypt(body) if body else ""
    record.location = response.headers.get("Location", "")
    record.save(update_fields=["status_code", "body", "location"])


def _replay(record: IdempotencyKey) -> Response:
    data = json.loads(crypto.decrypt(record.body)) if record.body else None
    response = Response(data, status=record.status_code)
    if record.location:
        response["Location"] = record.location
    response["Idempotent-Replayed"] = "true"
    return response


def _prune(tenant: Tenant, now: datetime) -> None:
    # a bounded batch per new key keeps the table at about the keys of the last KEEP
    expired = IdempotencyKey.objects.filter(tenant=tenant, expires_at__lte=now)
    IdempotencyKey.objects.filter(pk__in=expired.values("pk")[:PRUNE_BATCH]).delete()
