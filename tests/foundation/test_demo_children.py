"""The demo's children stop one at a time, in the documented order, each within its time,
and the demo says what each stop waits for."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import ROOT
from tools.demo.children import Children

# A child that notes when its stop signal arrives and when it is done, taking a moment to
# finish as a worker finishing its task would.
CHILD = """
import signal, sys, time
name, journal = sys.argv[1], sys.argv[2]

def note(event):
    with open(journal, "a") as out:
        out.write(f"{name} {event} {time.monotonic()}\\n")

def stop(*_):
    note("signalled")
    time.sleep(0.4)
    note("exited")
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
open(journal + "." + name, "w").close()  # ready
while True:
    time.sleep(0.05)
"""


def test_children_stop_one_after_another_in_the_given_order(tmp_path: Path):
    journal = tmp_path / "journal"
    children = Children(tmp_path)
    # started in the demo's start order, with the sandbox's own stop signal
    children.start(
        "sandbox", [sys.executable, "-c", CHILD, "sandbox", str(journal)], stop_signal=signal.SIGINT
    )
    for name in ("qcluster", "web"):
        children.start(
            name, [sys.executable, "-c", CHILD, name, str(journal)], waits_for=lambda: "a task"
        )
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"journal.{n}").exists() for n in ("sandbox", "qcluster", "web")):
        assert time.monotonic() < deadline, "children did not start"
        time.sleep(0.05)

    said = []
    stopped = children.stop(order=("qcluster", "web", "sandbox"), say=said.append)

    assert stopped == ["qcluster", "web", "sandbox"]
    assert said[0] == "  stopping qcluster: a task …"
    assert said[1].startswith("  qcluster stopped in 0.")
    events = [line.split()[:2] for line in journal.read_text().splitlines()]
    assert events == [
        ["qcluster", "signalled"],
        ["qcluster", "exited"],
        ["web", "signalled"],
        ["web", "exited"],
        ["sandbox", "signalled"],
        ["sandbox", "exited"],
    ]
    assert all(child.proc.returncode == 0 for child in children.children)


# A child that ignores its stop signal and has started a process of its own.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[1], "w").write(str(grandchild.pid))
while True:
    time.sleep(0.05)
"""


def test_a_child_that_does_not_stop_in_time_is_killed_with_what_it_started(tmp_path: Path):
    ready = tmp_path / "grandchild"
    children = Children(tmp_path)
    children.start("stubborn", [sys.executable, "-c", STUBBORN, str(ready)])
    deadline = time.monotonic() + 30
    while not ready.exists() or not ready.read_text():
        assert time.monotonic() < deadline, "child did not start"
        time.sleep(0.05)
    grandchild = int(ready.read_text())

    said = []
    began = time.monotonic()
    children.stop(timeout=1, say=said.append)

    assert time.monotonic() - began < 5
    assert said == ["  stopping stubborn …", "  stubborn did not stop within 1 s: killed"]
    assert children.killed == ["stubborn"]
    assert children.children[0].proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while _running(grandchild):
        assert time.monotonic() < deadline, "the grandchild outlived the kill"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# The demo's own process, started as a background job of a script starts: SIGINT ignored.
STARTED_IGNORING_CTRL_C = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
from tools.demo.terminal import stop_on_signals
stop_on_signals()
try:
    print("ready", flush=True)
    time.sleep(30)
except KeyboardInterrupt as interrupt:
    print(f"{str(interrupt) or 'Ctrl-C'}: stopping", flush=True)
    # one more signal would cut the stop short: both are ignored from the first on
    print(all(signal.getsignal(s) == signal.SIG_IGN for s in (signal.SIGINT, signal.SIGTERM)))
"""


def test_ctrl_c_stops_a_demo_started_with_it_ignored():
    proc = subprocess.Popen(
        [sys.executable, "-c", STARTED_IGNORING_CTRL_C],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=20)[0]
    finally:
        proc.kill()
    assert rest == "Ctrl-C: stopping\nTrue\n"
