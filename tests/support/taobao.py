"""The TOP client tests' sandbox control and their worker processes (tests/taobao/worker.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests
from django.db import connection

from tests.support import ROOT


def control(sb, path: str, payload: dict | None = None) -> dict:
    url = f"{sb.url}/_sandbox/{path}"
    response = requests.post(url, json=payload) if payload is not None else requests.get(url)
    response.raise_for_status()
    return response.json()


def run_workers(*argsets: list[str], timeout: float = 60) -> list[dict]:
    """Run tests/taobao/worker.py in real processes on the test database; JSON results."""
    env = {**os.environ, "TEST_DB_NAME": connection.settings_dict["NAME"]}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.taobao.worker", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in argsets
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results
