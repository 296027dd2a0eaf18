"""Benchmark: how many 100-trade list calls per second the sandbox serves.

    python -m tools.bench.gateway [--seconds 10] [--clients 2] [--trades 5000]
                                  [--live 600] [--lag 60] [--spread 0]

The sandbox runs in this process. Clients run in separate processes over keep-alive HTTP and
call ``taobao.trades.sold.increment.get`` (page_size 100, fields including orders) over a
one-day window, on random pages. They are kept light (no JSON decoding) so that the figure
is the sandbox's, not the client library's.

By default the world is live, as in our own benchmarks: the market changes ``--live`` times a
minute and the changes become visible ``--lag`` seconds later. A computed list is reused only
within one second and until the next change, so in a live world a large share of the calls
scan their window afresh (the report says how many). ``--live 0 --lag 0`` measures a static
world instead, where almost every list comes from the cache; ``--spread N`` gives every call
a window of its own (ending up to N seconds ago), so nearly every call computes its list.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import random
import time
from urllib.parse import urlencode, urlsplit

from ordersync.sandbox.clock import fmt
from ordersync.sandbox.server import start_sandbox
from ordersync.taobao.signing import sign

APP_KEY = "bench-app"
APP_SECRET = "bench-secret"
FIELDS = "tid,status,type,created,modified,payment,total_fee,buyer_nick,orders"


def _client(gateway_url: str, session: str, seconds: float, pages: int, spread: int, out) -> None:
    """Call the gateway over one keep-alive connection until ``seconds`` have passed.

    The client is kept light (http.client, no JSON decoding: trades are counted in the raw
    body) so that the figure measures the sandbox, not the client.
    """
    url = urlsplit(gateway_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
    rng = random.Random()
    done = trades = errors = 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        now = time.time()
        end = now - rng.randint(0, spread)  # a window of its own: the list is computed afresh
        params = {
            "method": "taobao.trades.sold.increment.get",
            "app_key": APP_KEY,
            "session": session,
            "timestamp": fmt(now),
            "format": "json",
            "v": "2.0",
            "sign_method": "md5",
            "fields": FIELDS,
            "start_modified": fmt(end - 86400 + 60 + spread),
            "end_modified": fmt(end),
            "page_no": str(rng.randint(1, pages)),
            "page_size": "100",
        }
        params["sign"] = sign(params, APP_SECRET, "md5")
        connection.request("POST", url.path, urlencode(params), headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or not body.startswith(b'{"trades_sold_increment_get_response"'):
            errors += 1
            continue
        done += 1
        trades += body.count(b'"tid_str"')
    out.put((done, trades, errors))


METHOD = "taobao.trades.sold.increment.get"


def run(
    seconds: float = 10.0,
    clients: int = 2,
    trades: int = 5000,
    live: float = 600,
    lag: int = 60,
    spread: int = 0,
) -> dict:
    """Run the benchmark and return its figures (``live``: market changes per minute while
    it runs, half new trades and half changes; ``lag``: their visibility lag in seconds;
    ``spread``: each call's window ends up to this many seconds before now, so that calls
    rarely share a computed list)."""
    with start_sandbox(port=0, seed=1) as sb:
        world = sb.state
        world.add_app(APP_KEY, APP_SECRET, 0)
        seller, _ = world.add_seller("bench-shop", trades, 1)
        session = world.issue_session(APP_KEY, "bench-shop").key
        world.set_faults({"lag_seconds": lag})
        versions_before = _versions(seller)
        scans_before = seller.list_scans
        with world.lock:
            seller.rates.trades_per_minute = live / 2
            seller.rates.changes_per_minute = live / 2
        window = len([t for t in seller.trades.values() if t.type in ("fixed", "auction")])
        pages = max(1, window // 100 - 1)
        if spread:  # shorter windows hold fewer trades (history is spread evenly over a day)
            pages = max(1, int(window * (86400 - 60 - spread) / 86400) // 100 - 2)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        procs = [
            context.Process(
                target=_client, args=(sb.gateway_url, session, seconds, pages, spread, queue)
            )
            for _ in range(clients)
        ]
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
        with world.lock:
            seller.rates.trades_per_minute = seller.rates.changes_per_minute = 0
            served = world.calls[METHOD][APP_KEY]
            changes = _versions(seller) - versions_before
            scans = seller.list_scans - scans_before
    calls = sum(r[0] for r in results)
    return {
        "seconds": seconds,
        "clients": clients,
        "calls": calls,
        "trades": sum(r[1] for r in results),
        "errors": sum(r[2] for r in results),
        "calls_per_second": calls / seconds,
        "live": live,
        "lag": lag,
        "served": served,
        "changes": changes,
        "scans": scans,
        "window_trades": window,
        "spread": spread,
    }


def _versions(seller) -> int:
    return sum(len(trade.versions) for trade in seller.trades.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--trades", type=int, default=5000)
    parser.add_argument("--live", type=float, default=600, help="market changes per minute")
    parser.add_argument("--lag", type=int, default=60, help="visibility lag of the changes")
    parser.add_argument("--spread", type=int, default=0, help="windows end up to N s ago")
    args = parser.parse_args(argv)
    report(run(args.seconds, args.clients, args.trades, args.live, args.lag, args.spread))


def report(figures: dict, write=print) -> None:
    if figures["live"]:
        world = (
            f"market changing {figures['live']:.0f} times a minute ({figures['changes']} "
            f"changes), lag {figures['lag']} s"
        )
    else:
        world = "static world"
    if figures["spread"]:
        world += f", windows ending up to {figures['spread']} s ago"
    world += f"; {figures['scans']} lists computed, the other calls from the cache"
    write(
        f"{figures['calls']} list calls of 100 trades in {figures['seconds']:.0f} s "
        f"from {figures['clients']} client processes: "
        f"{figures['calls_per_second']:.0f} calls/s "
        f"({figures['trades'] / figures['seconds']:.0f} trades/s, {figures['errors']} errors; "
        f"{world}; {figures['window_trades']} trades in the window)"
    )


if __name__ == "__main__":
    main()
