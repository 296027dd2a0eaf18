"""Child processes of the tests: the project's own commands with a clean environment."""

from __future__ import annotations

import json
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


def deliverer(seconds: float, *flags: str, **env: str) -> subprocess.Popen:
    """``manage.py deliver_webhooks`` for ``seconds``, allowed to deliver to loopback."""
    env = {"WEBHOOKS_ALLOW_PRIVATE": "true", **env}
    return manage("deliver_webhooks", "--seconds", str(seconds), *flags, env=env)


# manage.py's main() once per case, in one process: a start that stops while the settings
# load (a bad value) stops before Django sets anything up, so each case loads them afresh.
_STARTS = """
import contextlib, io, json, os, sys
from django.conf import settings
from django.utils.functional import empty
import manage

results = []
for case in sys.argv[1:]:
    saved = dict(os.environ)
    os.environ.update(json.loads(case))
    sys.modules.pop("ordersync.settings", None)
    settings._wrapped = empty
    sys.argv, stderr, code = ["manage.py", "check"], io.StringIO(), 0
    try:
        with contextlib.redirect_stderr(stderr):
            manage.main()
    except SystemExit as exc:
        code = exc.code
    results.append((code, stderr.getvalue()))
    os.environ.clear()
    os.environ.update(saved)
print(json.dumps(results))
"""

# The settings module run once per case, in one process: what ``manage.py shell -c
# "print(settings.NAME, ...)"`` prints under each environment, without a process each.
_VALUES = """
import json, os, runpy, sys
from django.conf import global_settings

names, results = sys.argv[1].split(","), []
for case in sys.argv[2:]:
    saved = dict(os.environ)
    os.environ.update(json.loads(case))
    values = runpy.run_path("ordersync/settings.py")
    # as django.conf.settings answers: Django's default where the module sets none
    found = [values[n] if n in values else getattr(global_settings, n) for n in names]
    results.append(" ".join(map(str, found)))
    os.environ.clear()
    os.environ.update(saved)
print(json.dumps(results))
"""


def failed_starts(cases: list[dict[str, str]]) -> list[tuple[int, str]]:
    """(exit code, stderr) of ``manage.py check`` under each environment in ``cases``, for
    starts that a bad setting stops; one child process for all of them."""
    result = run_python(["-c", _STARTS, *map(json.dumps, cases)], child_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return [tuple(outcome) for outcome in json.loads(result.stdout)]


def settings_values(cases: list[dict[str, str]], names: list[str]) -> list[str]:
    """The settings ``names`` as ``print`` shows them, under each environment in ``cases``;
    one child process for all of them."""
    args = ["-c", _VALUES, ",".join(names), *map(json.dumps, cases)]
    result = run_python(args, child_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)
