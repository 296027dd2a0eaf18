"""The per-key budget holds across processes (gunicorn workers), not per process."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time

import pytest
from django.db import connection

from tests.support.processes import child_env, run_python
from trades.api.keys import create_api_key

# One "worker": its own interpreter, settings and cache client, on the test database.
REQUESTS = """
import json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")
from django.conf import settings
django.setup()
settings.DATABASES["default"]["NAME"] = os.environ["TEST_DB_NAME"]
from django.test import Client
client = Client(HTTP_AUTHORIZATION="Bearer " + os.environ["TOKEN"])
codes = [client.get("/api/v1/shops/").status_code for _ in range(int(sys.argv[1]))]
print(json.dumps(codes))
"""


def requests_from_a_process(token: str, count: int, **env: str) -> list[int]:
    environment = child_env(
        TEST_DB_NAME=connection.settings_dict["NAME"],
        TOKEN=token,
        ALLOWED_HOSTS="testserver",
        API_KEY_THROTTLE_RATE="4/min",
        **env,
    )
    result = run_python(["-c", REQUESTS, str(count)], environment)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def redis_url(tmp_path):
    """A real redis-server on a free loopback port, gone after the test."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp_path],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_two_processes_share_one_budget_in_postgresql(tenant_a):
    token = create_api_key(tenant_a, "ERP").token
    assert requests_from_a_process(token, 3) == [200, 200, 200]
    # a second process sees the first one's three requests: one left of four
    assert requests_from_a_process(token, 3) == [200, 429, 429]
    other = create_api_key(tenant_a, "BI").token
    assert requests_from_a_process(other, 1) == [200]  # the budget is still per key


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_two_processes_share_one_budget_in_redis(tenant_a, redis_url):
    token = create_api_key(tenant_a, "ERP").token
    assert requests_from_a_process(token, 3, REDIS_URL=redis_url) == [200, 200, 200]
    assert requests_from_a_process(token, 3, REDIS_URL=redis_url) == [200, 429, 429]


@pytest.mark.django_db
def test_the_cache_table_skips_the_write_ahead_log():
    """Every API request writes the throttle's row: unlogged, that write costs no WAL flush."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'ordersync_cache'")
        assert cursor.fetchone() == ("u",)
