"""A bound on a webhook request's whole time, not just each socket operation.

``requests``' timeout bounds the connect and every single read, so a receiver that trickles
its answer a byte at a time keeps a request alive indefinitely, past the delivery's claim:
another worker would then claim and send it while the first is still sending. A
:class:`Deadline` is a watchdog: when it runs out it shuts down the sockets of the request in
flight, which makes the blocked read return at once.

Connections register themselves (:class:`WatchedConnection`, mixed into the guarded urllib3
connections) with the deadline of the thread that sends, so one session's keep-alive
connections are watched whichever request uses them.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection

_current = threading.local()


class DeadlinePassed(TimeoutError):
    """A connection was made after the request's deadline had passed."""


class Deadline:
    """``with Deadline(seconds) as deadline:`` — requests sent inside end by ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = 0.0
        self.tripped = False
        self.finished = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Deadline:
        self.expires_at = time.monotonic() + self.seconds
        _current.deadline = self
        _watchdog.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.finished = True  # the watchdog drops it when its turn comes
        _current.deadline = None

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            if self.finished:
                return
            self._connections.append(connection)
            if self.tripped:
                _shut(connection)

    def trip(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.tripped = True
            for connection in self._connections:
                _shut(connection)


class _Watchdog:
    """One thread per process trips the deadlines that run out (a timer thread per request
    would cost more than the request)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline.expires_at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():  # first use, or forked
                self._thread = threading.Thread(
                    target=self._run, name="webhook-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)[2].trip()


_watchdog = _Watchdog()


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return  # still connecting: bounded by the connect timeout, then refused in _new_conn
    # the plain socket's shutdown, also for TLS: it wakes a read blocked in another thread
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def current() -> Deadline | None:
    return getattr(_current, "deadline", None)


class WatchedConnection:
    """Mixin for urllib3 connections: each request is watched by the sender's deadline."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        deadline = current()
        if deadline is not None and deadline.tripped:
            sock.close()
            raise DeadlinePassed(f"no complete answer within {deadline.seconds:g}s")
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = current()
        if deadline is not None:
            deadline.watch(self)
        return super().request(*args, **kwargs)
