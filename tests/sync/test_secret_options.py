"""add_app and add_shop take their secrets from the environment or stdin, so they stay out
of the process list; a secret on the command line still works, with a warning."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from shops.models import Shop, TopApp

pytestmark = pytest.mark.django_db


def run(*args: str, stdin: str | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    extra = {"stdin": io.StringIO(stdin)} if stdin is not None else {}
    call_command(*args, stdout=out, stderr=err, **extra)
    return out.getvalue(), err.getvalue()


def test_add_app_reads_the_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("TOP_APP_SECRET", "from-env")
    _, err = run("add_app", "--app-key", "k1")
    assert TopApp.objects.get(app_key="k1").app_secret == "from-env" and err == ""


def test_add_app_reads_the_secret_from_stdin(monkeypatch):
    monkeypatch.setenv("TOP_APP_SECRET", "not-this-one")
    _, err = run("add_app", "--app-key", "k2", "--app-secret", "-", stdin="from-stdin\n")
    assert TopApp.objects.get(app_key="k2").app_secret == "from-stdin" and err == ""


def test_add_app_warns_of_a_secret_on_the_command_line(monkeypatch):
    monkeypatch.delenv("TOP_APP_SECRET", raising=False)
    _, err = run("add_app", "--app-key", "k3", "--app-secret", "in-argv")
    assert TopApp.objects.get(app_key="k3").app_secret == "in-argv"
    assert "visible to every user" in err and "in-argv" not in err


def test_add_app_without_a_secret_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("TOP_APP_SECRET", raising=False)
    with pytest.raises(CommandError, match="set TOP_APP_SECRET in the environment"):
        run("add_app", "--app-key", "k4")
    with pytest.raises(CommandError, match="no secret in standard input"):
        run("add_app", "--app-key", "k4", "--app-secret", "-", stdin="")
    assert not TopApp.objects.filter(app_key="k4").exists()


def shop_args(top_app, nick: str) -> list[str]:
    return ["--tenant", "acme", "--app-key", top_app.app_key, "--nick", nick]


def test_add_shop_reads_the_session_from_the_environment_or_stdin(top_app, monkeypatch):
    monkeypatch.setenv("TOP_SESSION_KEY", "session-from-env")
    run("add_shop", *shop_args(top_app, "one"), "--seller-id", "1", "--no-backfill")
    assert Shop.objects.get(seller_nick="one").session_key == "session-from-env"

    args = [*shop_args(top_app, "two"), "--seller-id", "2", "--no-backfill"]
    run("add_shop", *args, "--session", "-", stdin="session-from-stdin\n")
    assert Shop.objects.get(seller_nick="two").session_key == "session-from-stdin"

    monkeypatch.delenv("TOP_SESSION_KEY")
    with pytest.raises(CommandError, match="set TOP_SESSION_KEY"):
        run("add_shop", *shop_args(top_app, "three"), "--seller-id", "3", "--no-backfill")
