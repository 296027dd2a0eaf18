"""Platform time from taobao.time.get, measured once and shared."""

from __future__ import annotations

from datetime import datetime, timedelta

from ordersync.taobao.clock import MemoryClockStore, PlatformClock
from ordersync.taobao.types import PLATFORM_TZ


class Platform:
    """A platform whose clock is `skew` seconds ahead; time.get takes `rtt` seconds."""

    def __init__(self, local, skew: float, rtt: float = 0.2) -> None:
        self.local, self.skew, self.rtt, self.calls = local, skew, rtt, 0

    def time_get(self) -> datetime:
        self.calls += 1
        self.local.now += self.rtt / 2
        answer = int(self.local.now + self.skew)  # whole seconds, truncated
        self.local.now += self.rtt / 2
        return datetime.fromtimestamp(answer, PLATFORM_TZ)


class Local:
    def __init__(self) -> None:
        self.now = 1_700_000_000.3

    def __call__(self) -> float:
        return self.now


def test_offset_at_round_trip_midpoint_within_a_second():
    for skew in (600.0, -600.0, 3.7):
        local = Local()
        platform = Platform(local, skew)
        clock = PlatformClock(MemoryClockStore(), platform.time_get, local=local)
        got = clock.now().timestamp()
        assert abs(got - (local.now + skew)) <= 0.6
        assert clock.now().tzinfo is not None


def test_one_measurement_per_refresh_interval_for_many_clocks():
    local = Local()
    platform = Platform(local, 120)
    store = MemoryClockStore(local)
    clocks = [PlatformClock(store, platform.time_get, 300, local=local) for _ in range(50)]
    for _ in range(3):
        for clock in clocks:
            clock.now()
        local.now += 100
    assert platform.calls == 1
    local.now += 300
    for clock in clocks:
        clock.now()
    assert platform.calls == 2


def test_the_time_call_itself_uses_the_last_offset():
    local = Local()
    seen = []

    def fetch():
        seen.append(clock.now())  # the client signs time.get with the clock it is measuring
        return datetime.fromtimestamp(int(local.now + 60), PLATFORM_TZ)

    clock = PlatformClock(MemoryClockStore(), fetch, local=local)
    now = clock.now()
    assert len(seen) == 1
    assert now - seen[0] > timedelta(seconds=59)


def test_a_local_clock_beyond_the_timestamp_window_is_found_by_probing():
    from ordersync.taobao.errors import ConfigurationError

    local = Local()
    skew = 900.0
    signed = []

    def fetch():
        stamp = clock.now().timestamp()
        signed.append(stamp)
        if abs(stamp - (local.now + skew)) > 600:
            raise ConfigurationError(
                "Invalid timestamp", code=31, sub_code="isv.timestamp-limit-error"
            )
        return datetime.fromtimestamp(int(local.now + skew), PLATFORM_TZ)

    clock = PlatformClock(MemoryClockStore(local), fetch, local=local)
    assert abs(clock.now().timestamp() - (local.now + skew)) <= 0.6
    assert len(signed) == 2
