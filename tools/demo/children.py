"""The demo's child processes: sandbox, workers, TMC consumer and web server, stopped in
order, each told to stop and given a few seconds, and the wait said while it lasts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
STOP_SECONDS = 10.0  # how long a child may take to stop before it is killed
NOTHING = ""  # a child that waits for nothing in particular


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    stop_signal: int
    # what a stop waits for, asked when the stop begins (e.g. the tasks the workers hold)
    waits_for: Callable[[], str]


class Children:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []
        self.killed: list[str] = []  # the children stop() had to kill

    def start(
        self,
        name: str,
        args: list[str],
        stop_signal: int = signal.SIGTERM,
        waits_for: Callable[[], str] = lambda: NOTHING,
    ) -> None:
        """Start ``args`` with its output appended to ``LOG_DIR/NAME.log``."""
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
        self.children.append(Child(name, proc, stop_signal, waits_for))

    def manage(self, name: str, *args: str, **options: Any) -> None:
        self.start(name, [sys.executable, "manage.py", *args], **options)

    def check(self) -> None:
        for child in self.children:
            if child.proc.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with code {child.proc.returncode}; "
                    f"see {self.log_dir / child.name}.log"
                )

    def stop(
        self,
        order: tuple[str, ...] = (),
        timeout: float = STOP_SECONDS,
        say: Callable[[str], None] = print,
    ) -> list[str]:
        """Stop the children one at a time, those named in ``order`` first, in that order.

        Each child gets its stop signal only once the one before it has exited: the demo
        stops the workers (they finish their task), then web, then the sandbox, which saves
        its world and must outlive every caller. The signal goes to the child alone, which
        stops its own processes in its own order (signalled all at once, a django-q2 cluster
        hangs). A child still running after ``timeout`` seconds is killed with everything it
        started. ``say`` is told what each stop waits for and how it ended. Returns the
        names in the order they were stopped.
        """
        rank = {name: index for index, name in enumerate(order)}
        ordered = sorted(self.children, key=lambda child: rank.get(child.name, len(order)))
        for child in ordered:
            if child.proc.poll() is not None:
                say(f"  {child.name} had exited (code {child.proc.returncode})")
                continue
            waits_for = child.waits_for()
            say(f"  stopping {child.name}" + (f": {waits_for}" if waits_for else "") + " …")
            said = _stop(child, timeout)
            if said.endswith("killed"):
                self.killed.append(child.name)
            say(said)
        return [child.name for child in ordered]


def _stop(child: Child, timeout: float) -> str:
    """Stop one running child; return how it went, in a line."""
    began = time.monotonic()
    child.proc.send_signal(child.stop_signal)
    try:
        child.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(child.proc)
        return f"  {child.name} did not stop within {timeout:.0f} s: killed"
    _kill_group(child.proc)  # anything it started and left behind
    return f"  {child.name} stopped in {time.monotonic() - began:.1f} s"


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # an empty group: nothing left behind
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
