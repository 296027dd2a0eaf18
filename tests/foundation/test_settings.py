"""A wrong setting stops the start with one message naming the variable."""

from __future__ import annotations

import json
import re

import pytest

from tests.support import ROOT
from tests.support.docs import settings_read
from tests.support.processes import (
    PRODUCTION,
    child_env,
    failed_starts,
    run_manage,
    run_python,
    settings_values,
)

BAD_SETTINGS = [
    ({**PRODUCTION, "DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
    ({**PRODUCTION, "DEBUG": "ture"}, "DEBUG='ture' is not a boolean"),
    ({"WEBHOOKS_ALLOW_PRIVATE": "sometimes"}, "WEBHOOKS_ALLOW_PRIVATE='sometimes' is not"),
    (
        {**PRODUCTION, "WEBHOOKS_ALLOW_LOOPBACK": "true"},
        "WEBHOOKS_ALLOW_LOOPBACK=True is for the demo on a development machine",
    ),
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
    ({"TOP_CONNECT_TIMEOUT": "0"}, "TOP_CONNECT_TIMEOUT=0.0 must be a positive number"),
    ({"SYNC_LAG_SECONDS": "-5"}, "SYNC_LAG_SECONDS=-5 must not be negative"),
    ({"SYNC_DEGRADE_AFTER_MINUTES": "0"}, "SYNC_DEGRADE_AFTER_MINUTES=0 must be a positive"),
    ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE='Mars/Olympus' is not a time zone"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is not valid"),
    ({"LANGUAGE_CODE": "fr"}, "LANGUAGE_CODE='fr' is not valid: expected zh-hans or en"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379' is not valid"),
    ({"API_KEY_THROTTLE_RATE": "fast"}, "API_KEY_THROTTLE_RATE='fast' is not valid"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_SETTINGS)
def test_bad_setting_stops_with_one_clear_message(bad_starts, overrides, message):
    returncode, stderr = bad_starts[json.dumps(overrides, sort_keys=True)]
    assert returncode == 2, stderr
    assert stderr.startswith("ordersync: configuration error:")
    assert message in stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


@pytest.fixture(scope="module")
def bad_starts() -> dict[str, tuple[int, str]]:
    """(exit code, stderr) of ``manage.py check`` per case of the test above, by its JSON."""
    outcomes = failed_starts([overrides for overrides, _ in BAD_SETTINGS])
    return {
        json.dumps(o, sort_keys=True): r for (o, _), r in zip(BAD_SETTINGS, outcomes, strict=True)
    }


WORDS = [("True", True), ("false", False), ("0", False)]


@pytest.fixture(scope="module")
def debug_by_word() -> dict[str, str]:
    values = settings_values([{**PRODUCTION, "DEBUG": word} for word, _ in WORDS], ["DEBUG"])
    return dict(zip([word for word, _ in WORDS], values, strict=True))


@pytest.mark.parametrize(("word", "debug"), WORDS)
def test_booleans_accept_the_usual_words(debug_by_word, word, debug):
    assert debug_by_word[word] == str(debug)


def test_production_settings_start_when_complete(tmp_path):
    result = run_manage({**PRODUCTION, "ALLOWED_HOSTS": "example.com"})
    assert result.returncode == 0, result.stderr


# --- every variable: documented, and a bad value is one clear message ---------------------
# free-form values: any string is a valid one
FREE_FORM = {"SECRET_KEY", "ALLOWED_HOSTS", "TMC_GROUP", "METRICS_TOKEN", "SYNC_TRADE_TYPES"}
FREE_FORM |= {"GUNICORN_BIND", "GUNICORN_ACCESS_LOG"}
# a bad data dir would be created in the project; tests/foundation/test_embedded_db.py covers it
NOT_TRIED = {"ORDERSYNC_DATA_DIR"}


def test_the_variable_list_is_complete():
    names = settings_read()
    # a regex that silently stopped matching would make the checks below vacuous
    assert {"DEBUG", "REDIS_URL", "WEB_CONCURRENCY", "SYNC_TRADE_TYPES", "METRICS_TOKEN"} <= names
    assert len(names) >= 50, sorted(names)


def test_every_variable_is_in_env_example_and_the_configuration_page():
    names = settings_read()
    example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert names - example == set(), "missing from .env.example"
    page = (ROOT / "docs" / "configuration.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("|")]
    in_tables = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}
    assert names - in_tables == set(), "missing from the tables of docs/configuration.md"


TRY_ALL = """
import contextlib, io, json, os, runpy, sys
from django.core.exceptions import ImproperlyConfigured

results = {}
for name in sys.argv[1:]:
    os.environ[name] = "bogus value"
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            for source in ("ordersync/settings.py", "ordersync/gunicorn.conf.py"):
                runpy.run_path(source)
        results[name] = "accepted"
    except ImproperlyConfigured as exc:
        results[name] = f"ordersync: configuration error: {exc}"
    except SystemExit:  # gunicorn.conf.py prints the message and exits
        results[name] = stderr.getvalue().strip()
    except Exception as exc:
        results[name] = f"crashed: {exc!r}"
    del os.environ[name]
print(json.dumps(results))
"""


def test_a_bad_value_of_any_variable_is_one_clear_message():
    names = sorted(settings_read() - NOT_TRIED)
    env = child_env()
    for name in names:
        env.pop(name, None)
    result = run_python(["-c", TRY_ALL, *names], env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    for name in names:
        outcome = outcomes[name]
        if name in FREE_FORM:
            assert outcome == "accepted", (name, outcome)
            continue
        assert outcome.startswith("ordersync: configuration error: "), (name, outcome)
        assert name in outcome and "\n" not in outcome, (name, outcome)
