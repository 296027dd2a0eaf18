"""The shared fixtures' rows as functions: tests/conftest.py writes them for each test, and a
module whose tests only read them may write them once (:func:`written_once`)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from shops.models import Membership, Shop, Tenant, TopApp


def tenant(letter: str) -> Tenant:
    return Tenant.objects.create(name=f"Tenant {letter.upper()}", slug=f"tenant-{letter}")


def member(username: str, of: Tenant, role: str) -> AbstractBaseUser:
    user = get_user_model().objects.create_user(username, password="pw-" + username, is_staff=True)
    Membership.objects.create(user=user, tenant=of, role=role)
    return user


def operator() -> AbstractBaseUser:
    return get_user_model().objects.create_superuser("olga", password="pw-olga")


def top_app() -> TopApp:
    return TopApp.objects.create(
        name="Test app",
        app_key="12345678",
        app_secret="helloworld",
        gateway_url="http://127.0.0.1:9/router/rest",
        calls_per_minute=600,
    )


def shop(of: Tenant, app: TopApp, letter: str, seller_id: int) -> Shop:
    return Shop.objects.create(
        tenant=of,
        app=app,
        seller_nick=f"seller-{letter}",
        seller_id=seller_id,
        session_key=f"sk-{letter}",
    )


@contextmanager
def written_once(django_db_blocker: Any) -> Iterator[None]:
    """For a module-scoped fixture: its rows are written in a transaction that is rolled back
    when the module ends. Each test's ``db`` runs in a savepoint inside it, so what a test
    writes is gone before the next, and the rows written once are there for every test."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def copied(name: str) -> Callable[..., Any]:
    """A fixture ``name``: the test's own copy of ``shared_rows[name]``, where ``shared_rows``
    is the module's fixture that writes its rows once (so it is set up before ``db``). A test
    may change the objects it is given, as Django's ``setUpTestData`` gives each test copies."""

    @pytest.fixture(name=name)
    def fixture(shared_rows: dict[str, Any], db: None) -> Any:
        return copy.deepcopy(shared_rows[name])

    return fixture
