"""Webhook fixtures: a real receiver on loopback, an endpoint of tenant A pointing at it."""

from __future__ import annotations

import pytest

from tools.bench.receiver import Behaviour, Receiver
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import SUBSCRIBABLE


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # the receiver is on loopback
    # generous: on a loaded machine a short timeout would fail healthy requests
    settings.WEBHOOKS_TIMEOUT = 5.0
    return settings


@pytest.fixture(autouse=True)
def queued(monkeypatch) -> list:
    """Tasks handed to django-q2 (none run: tests deliver by calling the runner)."""
    calls = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kwargs: calls.append((func, args))
    )
    return calls


@pytest.fixture
def receiver():
    with Receiver(Behaviour()) as running:
        yield running


@pytest.fixture
def issued(tenant_a, receiver):
    """Tenant A's endpoint subscribed to everything, and its secret."""
    return create_endpoint(tenant_a, receiver.url, SUBSCRIBABLE, "ERP")


@pytest.fixture
def endpoint(issued):
    return issued.endpoint
