"""What the figures were measured on: cores, memory, Python, PostgreSQL, load."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable

import psutil
from django.db import connection


def describe_machine() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "postgresql": postgres,
        "os": f"{platform.system()} {platform.release()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "git_commit": _git_commit(),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def settle(
    threshold: float,
    max_seconds: float,
    log: Callable[[str], object] = print,
    *,
    poll_seconds: float = 5.0,
    sleep: Callable[[float], object] = time.sleep,
) -> dict:
    """Wait until the 1-minute load average is at most ``threshold``, or ``max_seconds``.

    A timed part started right after a heavy one (the scheduler's qcluster) would measure that
    part's leftovers: the load before and after the wait, the seconds waited and whether the
    load did fall are returned for the report, so a figure measured unsettled says so.
    """
    before = load_average()
    started = time.monotonic()
    log(
        f"settling: 1-minute load {before[0]}, waiting for <= {threshold} "
        f"(at most {max_seconds:.0f} s)"
    )
    while os.getloadavg()[0] > threshold and time.monotonic() - started < max_seconds:
        sleep(min(poll_seconds, max(0.0, max_seconds - (time.monotonic() - started))))
    after = load_average()
    waited = round(time.monotonic() - started, 1)
    settled = after[0] <= threshold
    log(f"settling: {'settled' if settled else 'not settled'} after {waited} s, load {after}")
    return {
        "threshold": threshold,
        "max_seconds": max_seconds,
        "waited_seconds": waited,
        "load_average_before": before,
        "load_average_after": after,
        "settled": settled,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
