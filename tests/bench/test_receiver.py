"""The loopback webhook receiver the tests and the benchmark count deliveries with."""

from __future__ import annotations

import socket
import time

import requests

from tools.bench.receiver import Receiver


def test_a_sender_that_dies_mid_body_delivered_nothing():
    with Receiver() as receiver:
        port = receiver.server.server_port
        with socket.create_connection(("127.0.0.1", port)) as killed:
            killed.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        assert requests.post(receiver.url, data=b'{"id": 1}', timeout=10).ok
        time.sleep(0.2)  # the dead sender's handler thread ends after the live one
        assert [r.body for r in receiver.received] == [b'{"id": 1}']
        assert [r.body for r in receiver.delivered()] == [b'{"id": 1}']
