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

    def stop(self) -> None:
        """Workers first (they finish their task), then web, then the sandbox (it saves)."""
        for _, proc, stop_signal in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, stop_signal)
        deadline = time.monotonic() + 30
        for _, proc, _ in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


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
