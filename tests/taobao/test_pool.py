"""One HTTP session shared by a run's threads keeps a connection for each of them."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ordersync.taobao.transport import new_http_session


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: connections go back to the pool

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        barrier.wait(timeout=5)  # every thread's call is open at the same time
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


THREADS = 20
barrier = threading.Barrier(THREADS)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_twenty_calls_at_once_keep_their_connections(server, caplog):
    http = new_http_session()
    quiet = caplog.at_level(logging.WARNING, logger="urllib3.connectionpool")
    with quiet, ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda _: http.post(server, data="x", timeout=10), range(THREADS)))
    assert [answer.status_code for answer in answers] == [200] * THREADS
    assert "Connection pool is full" not in caplog.text
