"""Platform time under the tests' control: the sandbox's clock moves when a test says so,
and the engine follows it (it measures platform time with ``taobao.time.get``).

``advance(gateway, 5)`` stands for ``time.sleep(5)`` wherever a test only waits for a lag,
a timeout or a cadence to pass; the market acts through the skipped seconds at its rates.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from ordersync.taobao.models import PlatformClockOffset
from ordersync.taobao.store import state_connection
from ordersync.taobao.types import PLATFORM_TZ


def advance(gateway, seconds: float, step: float = 1.0) -> dict:
    """Move the sandbox's platform time on by ``seconds`` (the market acting through them in
    steps of ``step``); the engine measures its offset again on its next client."""
    answer = gateway.control("clock", {"advance": seconds, "step": step})
    forget_offset()
    return answer


def manual(gateway) -> dict:
    """Stop the sandbox's clock: from now on it moves only with :func:`advance`, and the
    market with it (for tests that read the sandbox directly, not through the engine)."""
    return gateway.control("clock", {"mode": "manual"})


def forget_offset() -> None:
    """Drop the stored platform-time offsets, as if they were due for a refresh."""
    table = PlatformClockOffset._meta.db_table
    state_connection().execute(f"DELETE FROM {table}")


class SandboxClock:
    """The sandbox's own clock read in process: a client given it needs no offset at all."""

    def __init__(self, gateway) -> None:
        self.world = gateway.sandbox.state

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.world.now(), PLATFORM_TZ)


def stop_at(gateway, when: datetime) -> SandboxClock:
    """Stop the sandbox's clock at ``when`` (aware; a time of day a test depends on) and return
    it for the test's clients: a measured offset would sign hours off the platform's time,
    which the platform refuses beyond 10 minutes."""
    gateway.control("clock", {"mode": "manual", "set": when.timestamp()})
    forget_offset()
    return SandboxClock(gateway)


def next_platform_time(gateway, hour: int, minute: int = 0, second: float = 0) -> datetime:
    """The sandbox's next ``hour:minute`` platform time, plus ``second`` seconds (negative:
    before it), always later than the sandbox's now."""
    now = SandboxClock(gateway).now()
    at = datetime.combine(now.date(), time(hour, minute), PLATFORM_TZ)
    if at + timedelta(seconds=second) <= now:
        at += timedelta(days=1)
    return at + timedelta(seconds=second)
