"""A sandbox gateway in a child process, so its work does not share our process or GIL."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SandboxProcess:
    def __init__(self, seed: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "taobao_sandbox",
                "--port",
                str(self.port),
                "--seed",
                str(seed),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.url}/_sandbox/time", timeout=1).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.2)

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/router/rest"

    def control(self, path: str, body: dict | None = None, timeout: float = 600) -> dict:
        url = f"{self.url}/_sandbox/{path}"
        if body is None:
            response = requests.get(url, timeout=120)
        else:
            response = requests.post(url, json=body, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
