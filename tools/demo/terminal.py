"""What the demo does to its own process: logs to a file, SIGTERM as Ctrl-C, and webhooks
to receivers on this machine for its children."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from types import FrameType

from django.conf import settings

LOOPBACK_SETTING = "WEBHOOKS_ALLOW_LOOPBACK"


def log_to_file(path: Path) -> None:
    """Send this process's log lines to ``path`` instead of the terminal: the terminal shows
    the banner and the status line only (the children log to files of their own)."""
    root = logging.getLogger()
    handler = logging.FileHandler(path)
    for old in list(root.handlers):
        if isinstance(old, logging.StreamHandler) and not isinstance(old, logging.FileHandler):
            handler.setFormatter(old.formatter)
            root.removeHandler(old)
    root.addHandler(handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # The first signal stops the demo; one more would interrupt that stop on its way to
    # stopping the children (which run in sessions of their own) and leave them running.
    for ignored in (signal.SIGINT, signal.SIGTERM):
        signal.signal(ignored, signal.SIG_IGN)
    # SIGINT is Ctrl-C, as Python's own handler says it; another signal goes by its name
    raise KeyboardInterrupt("" if signum == signal.SIGINT else signal.Signals(signum).name)


def stop_on_signals() -> None:
    """SIGTERM (a supervisor, ``kill``) stops the demo as Ctrl-C does: every child in order,
    the sandbox saving its world. SIGINT is handled here too, not left to Python: a demo
    started with it ignored (a background job of a script) would not stop on Ctrl-C."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)


def allow_loopback_webhooks() -> str:
    """Let the children deliver webhooks to receivers on this machine (loopback addresses
    only), where a newcomer's test receiver runs. Return the banner's line saying so.

    The setting is refused with ``DEBUG=False``, so it never reaches a production setup."""
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return "receivers on private and loopback addresses allowed (WEBHOOKS_ALLOW_PRIVATE)"
    if not settings.DEBUG:
        return "receivers on public addresses only (DEBUG=False: loopback stays refused)"
    os.environ[LOOPBACK_SETTING] = "true"
    return "receivers on this machine (127.0.0.1, ::1, localhost) allowed, in the demo only"
