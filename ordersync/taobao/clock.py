"""Platform time: the local clock plus an offset measured with ``taobao.time.get``.

The offset is shared through a store, so a fleet of processes measures it about once per
refresh interval in total instead of once per shop. It is stored relative to the store's
own clock (the database server's), not to any one machine's: every process measures its
own distance to that reference with a cheap query, so machines whose clocks disagree still
share one measurement correctly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ordersync.taobao.errors import ConfigurationError
from ordersync.taobao.types import PLATFORM_TZ

# time.get answers in whole seconds, truncated: on average the true time is half a second
# later than the string says.
TRUNCATION_CORRECTION = 0.5
# The gateway refuses a timestamp more than 10 minutes off (code 31), time.get included. When
# the local clock is that far off, sign with these guesses until one lands inside the window.
PROBE_OFFSETS = (0.0, 540.0, -540.0, 1080.0, -1080.0)


@dataclass(frozen=True)
class Offset:
    seconds: float  # platform time minus reference time
    measured_at: float  # reference epoch seconds


class ClockStore(Protocol):
    def reference_time(self) -> float:
        """The shared reference clock, epoch seconds."""

    def load(self, key: str) -> Offset | None: ...

    def claim(self, key: str, stale_before: float, lease_seconds: float) -> bool:
        """True for one caller at a time while the stored offset is older than stale_before."""

    def save(self, key: str, offset: Offset) -> None: ...


class MemoryClockStore:
    """A store for one process (and for tests)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._offsets: dict[str, Offset] = {}
        self._leases: dict[str, float] = {}
        self._lock = threading.Lock()
        self._now = now

    def reference_time(self) -> float:
        return self._now()

    def load(self, key: str) -> Offset | None:
        return self._offsets.get(key)

    def claim(self, key: str, stale_before: float, lease_seconds: float) -> bool:
        with self._lock:
            current = self._offsets.get(key)
            if current is not None and current.measured_at >= stale_before:
                return False
            now = self._now()
            if self._leases.get(key, 0.0) > now:
                return False
            self._leases[key] = now + lease_seconds
            return True

    def save(self, key: str, offset: Offset) -> None:
        with self._lock:
            self._offsets[key] = offset
            self._leases.pop(key, None)


class PlatformClock:
    """``now()`` returns aware platform time (Asia/Shanghai)."""

    def __init__(
        self,
        store: ClockStore,
        fetch: Callable[[], datetime],
        refresh_seconds: float = 300,
        *,
        key: str = "top",
        local: Callable[[], float] = time.time,
        lease_seconds: float = 30,
    ) -> None:
        self.store = store
        self.fetch = fetch
        self.refresh_seconds = refresh_seconds
        self.key = key
        self.local = local
        self.lease_seconds = lease_seconds
        self.measurements = 0  # time.get round trips made through this clock
        self._total: float | None = None  # platform minus local
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._refreshing = threading.local()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.local() + self.offset(), PLATFORM_TZ)

    def offset(self) -> float:
        """Seconds to add to the local clock to get platform time."""
        probing: float | None = getattr(self._refreshing, "offset", None)
        if probing is not None:
            # The time.get call itself needs a timestamp: the last known offset, or a guess.
            return probing
        with self._lock:
            if self._total is None or self.local() - self._checked_at >= self.refresh_seconds:
                self._total = self._shared_offset()
                self._checked_at = self.local()
            return self._total

    def _shared_offset(self) -> float:
        to_reference = self._reference_offset()
        reference_now = self.local() + to_reference
        stored = self.store.load(self.key)
        if stored is None or reference_now - stored.measured_at >= self.refresh_seconds:
            stale_before = reference_now - self.refresh_seconds
            if self.store.claim(self.key, stale_before, self.lease_seconds) or stored is None:
                stored = self._measure(to_reference)
                self.store.save(self.key, stored)
            # else: another process is measuring right now; the old value is close enough.
        return to_reference + stored.seconds

    def _reference_offset(self) -> float:
        """Reference minus local, taken at the midpoint of one store query."""
        sent = self.local()
        reference = self.store.reference_time()
        return reference - (sent + self.local()) / 2

    def _measure(self, to_reference: float) -> Offset:
        """One time.get round trip; the offset is taken at its midpoint."""
        last = self._total or 0.0
        for guess in PROBE_OFFSETS:
            self._refreshing.offset = last + guess
            try:
                sent = self.local()
                platform = self.fetch()
                received = self.local()
                break
            except ConfigurationError as error:
                if error.code != 31 or guess == PROBE_OFFSETS[-1]:
                    raise
            finally:
                self._refreshing.offset = None
        self.measurements += 1
        midpoint = (sent + received) / 2 + to_reference
        platform_seconds = platform.timestamp() + TRUNCATION_CORRECTION
        return Offset(seconds=platform_seconds - midpoint, measured_at=received + to_reference)
