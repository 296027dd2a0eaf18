"""Child processes of the tests: the project's own commands with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys

from cryptography.fernet import Fernet
from django.db import connection

from tests.support import ROOT

# a production-grade key, so that each case of a settings test fails for its own reason only
GOOD_KEY = "k7Qp2vXz9LmN4rT8wY1bC6dF3gH5jK0sA-Ue_WiRoPqZxVyMnBtGcDhEfJlIkOa"
PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": GOOD_KEY,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def child_env(**overrides: str) -> dict[str, str]:
    """This environment without pytest's and Django's own variables, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(overrides)
    return env


def run_python(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    """``python ARGS`` in the project folder; its output captured as text."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def database_url() -> str:
    """A ``DATABASE_URL`` for this test's database (this worker's, under xdist)."""
    params = connection.get_connection_params()
    host = params.get("host") or "127.0.0.1"
    port = params.get("port") or 5432
    return f"postgresql://{params['user']}@/{params['dbname']}?host={host}&port={port}"


def manage(*args: str, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """``manage.py ARGS`` on this test's database, in the background; output piped as text
    unless ``popen`` says otherwise."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=child_env(DATABASE_URL=database_url(), **(env or {})),
        text=True,
        **popen,
    )


def run_manage(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``manage.py ARGS`` (``check`` without any) with ``env_overrides``, to its end."""
    return run_python(["manage.py", *(args or ("check",))], child_env(**env_overrides))


def deliverer(seconds: float, **env: str) -> subprocess.Popen:
    """``manage.py deliver_webhooks`` for ``seconds``, allowed to deliver to loopback."""
    env = {"WEBHOOKS_ALLOW_PRIVATE": "true", **env}
    return manage("deliver_webhooks", "--seconds", str(seconds), env=env)
