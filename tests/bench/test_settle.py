"""The timed parts (api, feed) wait for the machine to settle before timing, within a bound,
and the report says how long they waited and at what load, settled or not."""

from __future__ import annotations

from tools.bench import machine, report


class FakeMachine:
    """A 1-minute load that falls by ``fall`` per second slept, on a clock only sleep moves."""

    def __init__(self, load: float, fall: float) -> None:
        self.load, self.fall, self.now = load, fall, 1000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.load = max(0.0, self.load - self.fall * seconds)

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(machine.os, "getloadavg", lambda: (self.load, self.load, self.load))
        monkeypatch.setattr(machine.time, "monotonic", lambda: self.now)


def test_a_part_waits_until_the_load_falls(monkeypatch):
    fake = FakeMachine(load=6.8, fall=0.05)
    fake.install(monkeypatch)
    waited = machine.settle(1.0, 300, log=lambda line: None, sleep=fake.sleep)
    assert waited["settled"] and waited["load_average_after"][0] <= 1.0
    assert waited["load_average_before"][0] == 6.8
    assert 110 <= waited["waited_seconds"] <= 120  # (6.8 - 1.0) / 0.05 = 116 s, in 5 s polls


def test_the_wait_is_bounded_and_an_unsettled_part_says_so(monkeypatch):
    fake = FakeMachine(load=9.0, fall=0.001)
    fake.install(monkeypatch)
    waited = machine.settle(1.0, 60, log=lambda line: None, sleep=fake.sleep)
    assert not waited["settled"] and waited["waited_seconds"] == 60
    lines = report._settled({"settle": waited})
    assert "it did not" in lines[0] and "60" in lines[0]


def test_a_quiet_machine_is_not_kept_waiting(monkeypatch):
    fake = FakeMachine(load=0.4, fall=0.0)
    fake.install(monkeypatch)
    waited = machine.settle(1.0, 300, log=lambda line: None, sleep=fake.sleep)
    assert waited["settled"] and waited["waited_seconds"] == 0
    assert "then [0.4, 0.4, 0.4]" in report._settled({"settle": waited})[0]
