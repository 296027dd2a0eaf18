"""The trade list's own queries timed in ``psql`` alone: the database's part of a request.

The queries one ``GET /api/v1/trades/?limit=N`` runs on the trade tables are captured from
one in-process request (with their literal parameters), then ``psql`` runs them ``repeat``
times in one session; a run with one repetition is subtracted, leaving the queries' time
without psql's start. The output is rendered by psql as it would be for a person (``-A``).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

TABLES = ("trades_trade", "trades_tradeline")


def list_queries(token: str, page: int) -> list[str]:
    """The SQL of one trade list request that reads the trade tables."""
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    with override_settings(DEBUG=False), CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/trades/", {"limit": page}).status_code == 200
    return [q["sql"] for q in captured if any(t in q["sql"] for t in TABLES)]


def time_in_psql(queries: list[str], repeat: int = 50) -> dict:
    """Milliseconds per request of ``queries`` run by psql (mean over ``repeat``)."""
    one, many = _run(queries, 1), _run(queries, repeat + 1)
    return {
        "queries": len(queries),
        "repeat": repeat,
        "ms_per_request": round((many - one) * 1000 / repeat, 1),
    }


def _run(queries: list[str], times: int) -> float:
    params = connection.get_connection_params()
    script = "\n".join(f"{q};" for q in queries) + "\n"
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(script * times)
    command = [
        "psql",
        "-X",
        "-A",
        "-q",
        "-h",
        str(params.get("host") or "127.0.0.1"),
        "-p",
        str(params.get("port") or 5432),
        "-U",
        str(params["user"]),
        "-d",
        str(params["dbname"]),
        "-f",
        file.name,
    ]
    env = {"PGPASSWORD": str(params.get("password") or "")}
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    elapsed = time.perf_counter() - started
    Path(file.name).unlink()
    return elapsed
