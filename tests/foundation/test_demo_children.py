"""The demo's children stop one at a time, in the documented order."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

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
        children.start(name, [sys.executable, "-c", CHILD, name, str(journal)])
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"journal.{n}").exists() for n in ("sandbox", "qcluster", "web")):
        assert time.monotonic() < deadline, "children did not start"
        time.sleep(0.05)

    stopped = children.stop(order=("qcluster", "web", "sandbox"))

    assert stopped == ["qcluster", "web", "sandbox"]
    events = [line.split()[:2] for line in journal.read_text().splitlines()]
    assert events == [
        ["qcluster", "signalled"],
        ["qcluster", "exited"],
        ["web", "signalled"],
        ["web", "exited"],
        ["sandbox", "signalled"],
        ["sandbox", "exited"],
    ]
    assert all(proc.returncode == 0 for _, proc, _ in children.procs)
