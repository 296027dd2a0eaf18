"""Tests that must run alone beside tests that may share the machine, across the parallel
workers of one run: a readers-writer lock on two files that every worker of the run sees."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def taken(folder: Path, alone: bool) -> Iterator[None]:
    """Hold the run's lane for the block: alone (no other test runs) or shared (any other
    shared test may run). A test waiting to run alone goes before shared tests asking after
    it (the turnstile), so a stream of shared tests never keeps it waiting to the end."""
    with open(folder / "lanes.turnstile", "a") as turnstile, open(folder / "lanes", "a") as lane:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(lane, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lane, fcntl.LOCK_UN)
