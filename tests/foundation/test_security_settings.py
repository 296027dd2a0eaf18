"""Production settings: HTTPS from the environment, password rules, a throttled console login."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.support import ROOT
from tests.support.processes import PRODUCTION, failed_starts, run_manage, settings_values


def documented_production_values() -> dict[str, str]:
    """The uncommented assignments of .env.example: the production values (docs/operations.md)."""
    text = (ROOT / ".env.example").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, re.M))


def test_check_deploy_is_clean_with_the_documented_production_values():
    env = {**documented_production_values(), **PRODUCTION, "ALLOWED_HOSTS": "ordersync.example"}
    result = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


SECURITY = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_HTTPONLY",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "CSRF_TRUSTED_ORIGINS",
]
FROM_THE_ENVIRONMENT = {
    **PRODUCTION,
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    "CSRF_TRUSTED_ORIGINS": "https://console.example.com,https://ops.example.com:8443",
    "SECURE_SSL_REDIRECT": "False",
    "SECURE_COOKIES": "no",
    "SECURE_HSTS_SECONDS": "0",
}


@pytest.fixture(scope="module")
def security() -> dict[str, str]:
    """The security settings, printed, by default and as the environment sets them."""
    default, configured = settings_values([PRODUCTION, FROM_THE_ENVIRONMENT], SECURITY)
    return {"default": default, "configured": configured}


def test_debug_off_is_secure_by_default(security):
    assert security["default"] == "True True True True True 31536000 None []"


def test_proxy_header_and_trusted_origins_come_from_the_environment(security):
    assert security["configured"] == (
        "False False True True False 0 ('HTTP_X_FORWARDED_PROTO', 'https') "
        "['https://console.example.com', 'https://ops.example.com:8443']"
    )


BAD = [
    ({"CSRF_TRUSTED_ORIGINS": "console.example.com"}, "each must be scheme://host"),
    ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "SECURE_PROXY_SSL_HEADER="),
    ({"ADMIN_LOGIN_THROTTLE_RATE": "often"}, "ADMIN_LOGIN_THROTTLE_RATE='often'"),
]


@pytest.fixture(scope="module")
def bad_starts() -> list[tuple[int, str]]:
    return failed_starts([overrides for overrides, _ in BAD])


@pytest.mark.parametrize("case", range(len(BAD)), ids=[message for _, message in BAD])
def test_bad_security_settings_stop_the_start(bad_starts, case):
    returncode, stderr = bad_starts[case]
    assert returncode == 2, stderr
    assert BAD[case][1] in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("password", ["qwertyuiop", "password1234", "5839201746382", "short-9xZ"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_strong_password_is_accepted():
    validate_password("mauve-Kettle-orbit-42")


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("operator", password="mauve-Kettle-orbit-42")


def _login(client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/admin/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def test_console_login_is_throttled_per_username(client, operator, settings):
    settings.ADMIN_LOGIN_THROTTLE_RATE = "3/h"
    for n in range(3):
        assert _login(client, "operator", "guess", f"10.0.0.{n}").status_code == 200
    # the right password, from a fresh address, is refused unchecked past the budget
    response = _login(client, "operator", "mauve-Kettle-orbit-42", "10.0.0.9")
    assert response.status_code == 200
    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_console_login_is_throttled_per_address(client, operator, settings):
    settings.ADMIN_LOGIN_THROTTLE_RATE = "3/h"
    for name in ("a", "b", "c"):
        _login(client, name, "guess")
    response = _login(client, "operator", "mauve-Kettle-orbit-42")
    assert "Too many sign-in attempts" in response.content.decode()


def test_a_good_login_clears_its_usernames_count(client, operator, settings):
    settings.ADMIN_LOGIN_THROTTLE_RATE = "3/h"
    _login(client, "operator", "guess", "10.0.0.1")
    _login(client, "operator", "guess", "10.0.0.2")
    assert _login(client, "operator", "mauve-Kettle-orbit-42", "10.0.0.3").status_code == 302
    client.logout()
    _login(client, "operator", "guess", "10.0.0.4")
    _login(client, "operator", "guess", "10.0.0.5")
    assert _login(client, "operator", "mauve-Kettle-orbit-42", "10.0.0.6").status_code == 302
