"""The per-key rate limit under load: many concurrent clients of one key against gunicorn.

Real processes (gunicorn workers, each with its own database connection) and real HTTP from
``clients`` threads; the figure is how many requests were allowed (200) within one window of
the budget. The limit holds when that is at most the budget.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import requests
from django.conf import settings
from django.db import connection

from shops.models import Tenant
from tools.bench.api import _free_port, _wait_until_up
from trades.api.keys import create_api_key

SLUG = "bench-ratelimit"


def database_url() -> str:
    """This process's database as a ``DATABASE_URL`` (the test database inside the tests)."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    url = f"postgres://{credentials}{db.get('HOST') or ''}{port}/{db['NAME']}"
    socket_dir = db.get("OPTIONS", {}).get("host")  # the embedded server's socket directory
    return f"{url}?host={quote(socket_dir, safe='/')}" if socket_dir else url


def measure(
    *, budget: int, clients: int, seconds: float, requests_per_client: int, workers: int
) -> dict:
    """Hammer one key with ``clients`` threads for up to ``seconds`` (at most one minute, the
    budget's window) or ``requests_per_client`` each; return the counts."""
    if seconds > 60:
        raise ValueError("one window of the budget: at most 60 seconds")
    tenant = Tenant.objects.create(name="Rate limit bench", slug=SLUG)
    try:
        token = create_api_key(tenant, "stress").token
        with _gunicorn(budget, workers) as base:
            codes = _load(f"{base}/api/v1/shops/", token, clients, seconds, requests_per_client)
    finally:
        tenant.delete()
    allowed = codes.get(200, 0)
    return {
        "budget_per_minute": budget,
        "clients": clients,
        "gunicorn_workers": workers,
        "seconds": seconds,
        "requests": sum(codes.values()),
        "allowed": allowed,
        "throttled": codes.get(429, 0),
        "other": {code: n for code, n in codes.items() if code not in (200, 429)},
        "allowed_over_budget_percent": round((allowed - budget) * 100 / budget, 2),
        "held": allowed <= budget * 1.01,
    }


class _gunicorn:
    """A gunicorn of this project on a free loopback port, on this process's database."""

    def __init__(self, budget: int, workers: int) -> None:
        self.budget, self.workers = budget, workers

    def __enter__(self) -> str:
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
            "DEBUG": "false",
            "SECRET_KEY": "bench-ratelimit-" + "k7Qp2vXz9LmN4rT8wY1bC6dF3gH5jK0sAUeWiRoPqZxVyM",
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "DATABASE_URL": database_url(),
            "API_KEY_THROTTLE_RATE": f"{self.budget}/min",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
            "LOG_LEVEL": "WARNING",
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.server = subprocess.Popen(
            [str(gunicorn), "ordersync.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(self.workers)]
            + ["--threads", "4", "--log-level", "warning"],
            env=env,
            cwd=settings.BASE_DIR,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base)
        except BaseException:
            self.__exit__()
            raise
        return base

    def __exit__(self, *exc) -> None:
        self.server.terminate()
        self.server.wait(10)


def _load(url: str, token: str, clients: int, seconds: float, each: int) -> dict[int, int]:
    """Status codes of the requests of ``clients`` threads started together."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    codes: dict[int, int] = {}
    start = threading.Barrier(clients)

    def run() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        start.wait()
        for _ in range(each):
            if time.monotonic() >= deadline:
                break
            try:
                code = session.get(url, timeout=30).status_code
            except requests.RequestException:
                code = 0
            with lock:
                codes[code] = codes.get(code, 0) + 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes
