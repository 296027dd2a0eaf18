"""A wrong setting stops the start with one message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
# a production-grade key, so that each case below fails for its own reason only
GOOD_KEY = "k7Qp2vXz9LmN4rT8wY1bC6dF3gH5jK0sA-Ue_WiRoPqZxVyMnBtGcDhEfJlIkOa"
PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": GOOD_KEY,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def run_manage(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *(args or ("check",))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({**PRODUCTION, "DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
        ({**PRODUCTION, "DEBUG": "ture"}, "DEBUG='ture' is not a boolean"),
        ({"WEBHOOKS_ALLOW_PRIVATE": "sometimes"}, "WEBHOOKS_ALLOW_PRIVATE='sometimes' is not"),
        ({"DEBUG": "False"}, "SECRET_KEY must be set when DEBUG=False"),
        (
            {**PRODUCTION, "SECRET_KEY": "change-me-to-a-long-random-string"},
            "SECRET_KEY is a placeholder",
        ),
        ({**PRODUCTION, "SECRET_KEY": "short-but-random-9f3k"}, "SECRET_KEY is too weak"),
        ({**PRODUCTION, "SECRET_KEY": "x" * 60}, "SECRET_KEY is too weak"),
        (
            {**PRODUCTION, "FIELD_ENCRYPTION_KEYS": ""},
            "FIELD_ENCRYPTION_KEYS must be set when DEBUG=False",
        ),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-key"}, "FIELD_ENCRYPTION_KEYS: key #1"),
        ({"DATABASE_URL": "mysql://u:p@localhost/db"}, "DATABASE_URL must point at PostgreSQL"),
        ({"Q_TIMEOUT": "600", "Q_RETRY": "300"}, "Q_RETRY=300 must be larger than Q_TIMEOUT"),
        ({"Q_WORKERS": "0"}, "Q_WORKERS=0 must be a positive whole number"),
        ({"TOP_READ_TIMEOUT": "soon"}, "TOP_READ_TIMEOUT"),
    ],
)
def test_bad_setting_stops_with_one_clear_message(overrides, message):
    result = run_manage(overrides)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("ordersync: configuration error:")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(("word", "debug"), [("True", True), ("false", False), ("0", False)])
def test_booleans_accept_the_usual_words(word, debug):
    result = run_manage(
        {**PRODUCTION, "DEBUG": word},
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(debug)


def test_production_settings_start_when_complete(tmp_path):
    result = run_manage({**PRODUCTION, "ALLOWED_HOSTS": "example.com"})
    assert result.returncode == 0, result.stderr
