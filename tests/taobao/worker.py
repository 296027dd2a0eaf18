"""A worker process for the multi-process tests: ``python -m tests.taobao.worker CMD JSON``.

It shares the test database with the test process and prints one JSON line of results.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersync.settings")


def setup() -> None:
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"]["NAME"] = os.environ["TEST_DB_NAME"]


def make_client(args: dict):
    from ordersync.taobao.client import AppCredentials
    from ordersync.taobao.store import client_for

    return client_for(AppCredentials(**args["app"]), calls_per_minute=args["calls_per_minute"])


def hammer(args: dict) -> dict:
    """Call time.get from ``threads`` threads for one shop between start_at and end_at."""
    from ordersync.taobao.errors import TopError

    client = make_client(args)
    outcomes: Counter = Counter()
    lock = threading.Lock()
    while time.time() < args["start_at"]:
        time.sleep(0.005)

    def loop() -> None:
        while time.time() < args["end_at"]:
            try:
                client.call("taobao.time.get", {}, shop_key=args["shop"])
                outcome = "ok"
            except TopError as error:
                outcome = f"{type(error).__name__}:{error.code}"
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=loop) for _ in range(args.get("threads", 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"outcomes": dict(outcomes), "calls": client.calls, "waits": client.limiter.waits}


def one_call(args: dict) -> dict:
    """One time.get through the shared limiter (at ``start_at`` if given); how long it was
    held back."""
    client = make_client(args)
    while time.time() < args.get("start_at", 0):
        time.sleep(0.005)
    started = time.monotonic()
    client.call("taobao.time.get", {}, shop_key=args["shop"])
    return {
        "elapsed": time.monotonic() - started,
        "waited": client.limiter.wait_seconds,
        "calls": client.calls,
    }


COMMANDS = {"hammer": hammer, "one_call": one_call}

if __name__ == "__main__":
    setup()
    command, payload = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(COMMANDS[command](payload)))
