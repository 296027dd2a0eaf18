"""The demo's child processes: sandbox, workers and web server, stopped in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


class Children:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen, int]] = []

    def start(self, name: str, args: list[str], stop_signal: int = signal.SIGTERM) -> None:
        log = (self.log_dir / f"{name}.log").open("a")
        # A session of its own: Ctrl-C reaches the demo only, which stops children in order.
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
        self.procs.append((name, proc, stop_signal))

    def manage(self, name: str, *args: str, stop_signal: int = signal.SIGTERM) -> None:
        self.start(name, [sys.executable, "manage.py", *args], stop_signal)

    def check(self) -> None:
        for name, proc, _ in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with code {proc.returncode}; see {self.log_dir / name}.log"
                )

    def stop(self, order: tuple[str, ...] = (), timeout: float = 30) -> list[str]:
        """Stop the children one at a time, those named in ``order`` first, in that order.

        Each child gets its stop signal only once the one before it has exited: the demo
        stops the workers (they finish their task), then web, then the sandbox, which saves
        its world and must outlive every caller. A child still running after ``timeout``
        seconds is killed. Returns the names in the order they were stopped.
        """
        rank = {name: index for index, name in enumerate(order)}
        procs = sorted(self.procs, key=lambda entry: rank.get(entry[0], len(order)))
        for _, proc, stop_signal in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, stop_signal)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return [name for name, _, _ in procs]


def wait_for_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f}s") from None
            time.sleep(0.3)
