"""The sandbox HTTP server (stdlib, threaded, HTTP/1.1 keep-alive) and in-process start.

from ordersync.sandbox.server import start_sandbox
with start_sandbox(port=0, seed=42) as sb:
    requests.post(sb.gateway_url, data=...)
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from ordersync.sandbox import control, gateway, oauth, scenarios
from ordersync.sandbox.activity import LiveMarket
from ordersync.sandbox.jdp import Pusher
from ordersync.sandbox.world import World


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ordersync-sandbox"
    disable_nagle_algorithm = True
    world: World

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def __getattr__(self, name: str):
        # http.server looks up do_<VERB>; every other verb (lowercase too) reaches the
        # gateway, which answers as the platform does
        if name.startswith("do_") and name != "do_HEAD":  # HEAD answers have no body
            return lambda: self._dispatch(name[3:])
        raise AttributeError(name)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def _dispatch(self, verb: str) -> None:
        try:
            self._route(verb)
        except Exception:  # a sandbox bug: answer 500 and show it, never hang the client
            traceback.print_exc()
            self.close_connection = True
            self._send(500, {"Content-Type": "text/plain"}, b"sandbox internal error")

    def _route(self, verb: str) -> None:
        world = self.server.world
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if url.path == "/router/rest":
            if verb in ("GET", "POST"):
                reply = gateway.handle(world, url.query, body, ctype)
            else:
                reply = gateway.wrong_verb(world, url.query)
            if reply.hang:
                time.sleep(reply.hang)
                self.close_connection = True
                return
            if reply.delay:
                time.sleep(reply.delay)
            self._send(reply.status, *self._encoded(reply.content_type, reply.body))
        elif url.path.startswith("/_sandbox"):
            status, payload = control.handle(world, verb, url.path, url.query, body)
            data = json.dumps(payload, ensure_ascii=False).encode()
            self._send(status, {"Content-Type": "application/json;charset=UTF-8"}, data)
        elif url.path == "/authorize":
            self._send(*oauth.authorize(world, url.query))
        elif url.path == "/token" and verb == "POST":
            self._send(*oauth.token(world, body, url.query))
        else:
            self._send(404, {"Content-Type": "text/plain"}, b"not found")

    def _encoded(self, content_type: str, body: bytes) -> tuple[dict, bytes]:
        """Headers and body, gzipped when the client asks for it (as the gateway does)."""
        headers = {"Content-Type": content_type}
        if "gzip" in self.headers.get("Accept-Encoding", "").lower() and body:
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(body, compresslevel=5)
        return headers, body

    def _send(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        # Headers and body in one write: two small writes would wait on delayed ACKs.
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(body)
        self.flush_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, world: World) -> None:
        self.world = world
        super().__init__(address, _Handler)


class Sandbox:
    """A running sandbox: ``url``, ``gateway_url``, ``state`` (the world) and ``stop()``."""

    def __init__(
        self, host: str, port: int, seed: int, scenario: str | None, snapshot: str | None = None
    ) -> None:
        self.snapshot = snapshot
        if snapshot and os.path.exists(snapshot):
            self.state = World.load(snapshot)
            self.scenario = None
        else:
            self.state = World(seed)
            self.scenario = scenarios.apply(self.state, scenario) if scenario else None
        self.state.snapshot_path = snapshot
        self._server = _Server((host, port), self.state)
        self.host, self.port = self._server.server_address[:2]
        self.url = f"http://{host}:{self.port}"
        self.gateway_url = f"{self.url}/router/rest"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._market = LiveMarket(self.state)
        self.jdp_pusher = Pusher(self.state)

    def start(self) -> Sandbox:
        self._thread.start()
        self._market.start()
        self.jdp_pusher.start()
        return self

    def stop(self) -> None:
        """Stop serving; with a snapshot path, save the world there first."""
        self._market.stop()
        self.jdp_pusher.stop()
        self._server.shutdown()
        self._server.server_close()
        if self.snapshot:
            self.state.save(self.snapshot)

    def serve_forever(self) -> None:
        """Block until interrupted (Ctrl-C), then stop."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 42,
    scenario: str | None = None,
    snapshot: str | None = None,
) -> Sandbox:
    """Start a sandbox in background threads and return it (also a context manager).

    With ``snapshot``, the world is loaded from that file when it exists and saved to it on
    ``stop()``."""
    return Sandbox(host, port, seed, scenario, snapshot).start()
