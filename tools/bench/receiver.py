"""A webhook receiver on loopback for tests and benchmarks: it records what it gets and can
fail, hang, answer a fixed status or redirect on demand. Framework-free.

Run alone (``python -m tools.bench.receiver --port 0``) it prints its port and answers
``GET /count`` with the number of POSTs received, for a benchmark in another process.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Behaviour:
    """How the receiver answers; change the fields while it runs."""

    status: int = 204
    fail_rate: float = 0.0  # answer 503 this often
    hang_rate: float = 0.0  # say nothing for hang_seconds this often
    hang_seconds: float = 5.0
    redirect_to: str = ""  # answer 307 to this URL
    seed: int = 1
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int  # the status it was answered with (0: hung up without one)


class Receiver:
    def __init__(self, behaviour: Behaviour | None = None, port: int = 0) -> None:
        self.behaviour = behaviour or Behaviour()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def answer(self) -> tuple[int, float]:
        """The status to answer the next request with, and seconds to wait first."""
        b = self.behaviour
        with self.lock:
            draw = b.rng.random()
        if draw < b.hang_rate:
            return 0, b.hang_seconds
        if draw < b.hang_rate + b.fail_rate:
            return 503, 0.0
        return (307 if b.redirect_to else b.status), 0.0

    def note(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def delivered(self) -> list[Received]:
        """What was received and answered with a 2xx."""
        with self.lock:
            return [r for r in self.received if 200 <= r.answered < 300]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:  # the sender died mid-body: nothing arrived to answer
                self.close_connection = True
                return
            status, wait = receiver.answer()
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.note(Received(self.path, headers, body, status))
            if wait:
                time.sleep(wait)
            if status == 0:
                self.close_connection = True
                return
            self.send_response(status)
            if status == 307:
                self.send_header("Location", receiver.behaviour.redirect_to)
            reply = b"" if status == 204 else b"ok"  # a 204 has no body
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def do_GET(self) -> None:
            body = json.dumps({"count": len(receiver.delivered())}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    receiver = Receiver(port=args.port)
    print(receiver.server.server_port, flush=True)
    receiver.server.serve_forever()


if __name__ == "__main__":
    main()
