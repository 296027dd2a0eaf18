"""A receiver that trickles its answer cannot hold a delivery past its claim: every request
ends within ``request_seconds`` in all, although each byte arrives well within the timeout."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.support.records import wire_trade
from trades.sync.write import write_trades
from trades.webhooks.delivery import lease_seconds, request_seconds
from trades.webhooks.endpoints import create_endpoint
from trades.webhooks.models import SUBSCRIBABLE, WebhookDelivery
from trades.webhooks.runner import deliver_batch

pytestmark = pytest.mark.django_db

DRIP_SECONDS = 0.1  # far below the 0.5 s read timeout: no single read ever times out
GIVE_UP_SECONDS = 15.0  # the trickler's own limit, far past the request's deadline


class Trickler:
    """A loopback HTTP server that sends ``head`` at once, then one byte every DRIP_SECONDS."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.hung_up = threading.Event()  # set when the client closed the connection
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)  # the request (small: one read holds it)
            deadline = time.monotonic() + GIVE_UP_SECONDS
            try:
                conn.sendall(self.head)
                while time.monotonic() < deadline:
                    time.sleep(DRIP_SECONDS)
                    conn.sendall(b"a")
            except OSError:
                self.hung_up.set()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def trickling(tenant_a, settings):
    settings.WEBHOOKS_TIMEOUT = 0.5  # per read; the whole request gets request_seconds() = 1 s
    made = []

    def make(head: bytes) -> Trickler:
        made.append(Trickler(head))
        create_endpoint(tenant_a, made[-1].url, SUBSCRIBABLE)
        return made[-1]

    yield make
    for trickler in made:
        trickler.close()


def test_headers_trickled_past_the_deadline_time_out(shop_a, trickling):
    server = trickling(b"HTTP/1.1 200 OK\r\nX-Slow: ")  # the header never ends
    write_trades(shop_a, [wire_trade()])
    started = time.monotonic()
    (result,) = deliver_batch()
    took = time.monotonic() - started
    assert request_seconds() == 1.0 and took < lease_seconds(1)
    assert result.outcome == "timeout" and "in all" in result.error
    assert 0.9 <= result.duration_ms / 1000 < 2.0, result.duration_ms
    assert server.hung_up.wait(3.0)  # the connection was dropped, not left trickling
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.state == "pending" and delivery.log.get().outcome == "timeout"


def test_a_status_that_arrived_stands_when_the_body_trickles(shop_a, trickling):
    server = trickling(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nok")
    write_trades(shop_a, [wire_trade()])
    (result,) = deliver_batch()
    assert result.outcome == "success" and result.status_code == 200
    assert 0.9 <= result.duration_ms / 1000 < 2.0, result.duration_ms
    assert result.response_body.startswith("ok")
    assert server.hung_up.wait(3.0)
    assert WebhookDelivery.objects.get().state == "succeeded"


def test_concurrent_trickled_requests_each_end_at_their_deadline(shop_a, trickling):
    servers = [trickling(b"HTTP/1.1 200 OK\r\nX-Slow: ") for _ in range(3)]
    write_trades(shop_a, [wire_trade()])
    started = time.monotonic()
    results = deliver_batch()
    assert time.monotonic() - started < lease_seconds(len(results))
    assert len(results) == 3 and {r.outcome for r in results} == {"timeout"}
    assert all(0.9 <= r.duration_ms / 1000 < 2.0 for r in results), results
    assert all(server.hung_up.wait(3.0) for server in servers)
