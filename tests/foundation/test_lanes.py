"""The second stage's lanes: a test marked ``alone`` never runs beside another, the others run
side by side, and a waiting ``alone`` test is not overtaken by shared tests asking later."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.support import lanes
from tests.support.waiting import wait_until


def hold(folder: Path, alone: bool, entered: list, release: threading.Event, name: str):
    def run() -> None:
        with lanes.taken(folder, alone):
            entered.append(name)
            release.wait(30)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def waiting_on(path: Path) -> int:
    """How many lock requests on ``path`` are blocked (Linux's ``/proc/locks``)."""
    inode = f":{os.stat(path).st_ino} "
    lines = Path("/proc/locks").read_text().splitlines()
    return sum("->" in line and inode in line for line in lines)


def test_shared_tests_run_side_by_side_and_an_alone_test_waits_for_them(tmp_path):
    entered, first, second, done = [], threading.Event(), threading.Event(), threading.Event()
    a = hold(tmp_path, False, entered, first, "shared-1")
    b = hold(tmp_path, False, entered, second, "shared-2")
    wait_until(lambda: len(entered) == 2, 10, "both shared tests")
    alone = hold(tmp_path, True, entered, done, "alone")
    wait_until(lambda: waiting_on(tmp_path / "lanes"), 10, "the alone test to wait")
    late = hold(tmp_path, False, entered, done, "shared-late")
    wait_until(lambda: waiting_on(tmp_path / "lanes.turnstile"), 10, "the late one to wait")
    first.set()
    a.join(10)
    assert sorted(entered) == ["shared-1", "shared-2"]  # the alone test waits for the other …
    second.set()
    b.join(10)
    wait_until(lambda: len(entered) == 3, 10, "the alone test")
    assert entered[2] == "alone"  # … and goes before the shared test that asked after it
    wait_until(lambda: waiting_on(tmp_path / "lanes"), 10, "the late one to wait for it")
    assert len(entered) == 3  # which waits until it is done
    done.set()
    for thread in (alone, late):
        thread.join(10)
    assert entered[3] == "shared-late"
