"""The JSON control and ground-truth API under ``/_sandbox/`` (documented in docs/sandbox.md)."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qsl, unquote

from ordersync.sandbox import activity, clock, jdp, logistics, presale, stock
from ordersync.sandbox.apis import HANDLERS
from ordersync.sandbox.fields import refund_content, trade_content
from ordersync.sandbox.records import value
from ordersync.sandbox.world import World


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle(world: World, verb: str, path: str, query: str, body: bytes) -> tuple[int, dict]:
    """Return (HTTP status, JSON payload) for a control call."""
    try:
        data = json.loads(body or b"{}") if verb == "POST" else {}
        if not isinstance(data, dict):
            raise ControlError(400, "expected a JSON object")
        params = dict(parse_qsl(query))
        with world.lock:
            return 200, _route(world, verb, path.rstrip("/"), params, data)
    except ControlError as error:
        return error.status, {"error": str(error)}
    except (ValueError, TypeError, KeyError) as error:
        return 400, {"error": f"bad request: {error}"}


def _route(world: World, verb: str, path: str, params: dict, data: dict) -> dict:
    parts = path.split("/")[2:]  # after "/_sandbox"
    route = ROUTES.get((verb, "/".join(parts)))
    if route is not None:
        return route(world, params, data)
    if verb == "POST" and len(parts) == 3 and parts[0] == "sellers" and parts[2] in SELLER_ROUTES:
        return SELLER_ROUTES[parts[2]](world, _seller(world, unquote(parts[1])), data)
    raise ControlError(404, f"no control endpoint {verb} {path}")


def _expire_session(world: World, seller, data: dict) -> dict:
    return {"expired": world.expire_sessions(seller.nick)}


def _revoke(world: World, seller, data: dict) -> dict:
    return world.revoke(seller.nick, data.get("app_key") or None)


def _set_faults(world: World, params: dict, data: dict) -> dict:
    if data.pop("reset", False):
        world.faults = type(world.faults)()
    world.set_faults(data)
    return world.faults.as_dict()


def _trades_truth(world: World, params: dict, data: dict) -> dict:
    seller = _seller(world, params.get("nick", ""))
    return {"trades": _oracle_trades(world, seller, params.get("fields"))}


def _rejections_truth(world: World, params: dict, data: dict) -> dict:
    """A seller's trade-service rejection spells, during which the trade lists refused the
    seller's searches: the whole seconds inside each (start rounded up, end down)."""
    seller = _seller(world, params.get("nick", ""))
    spells = world.rejections.get(seller.nick, [])
    inside = [(math.ceil(start), int(end)) for start, end in spells]
    return {"spells": [[clock.fmt(start), clock.fmt(end)] for start, end in inside if start < end]}


def _refunds_truth(world: World, params: dict, data: dict) -> dict:
    seller = _seller(world, params.get("nick", ""))
    return {"refunds": _oracle_refunds(seller, params.get("fields"))}


def _versions_truth(world: World, params: dict, data: dict) -> dict:
    """Every trade version made at or after ``since`` (epoch seconds): ``[tid, made_at,
    modified]``, ``made_at`` to the fraction of a second, ``modified`` as the wire has it."""
    seller = _seller(world, params.get("nick", ""))
    since = float(params.get("since") or 0)
    versions = (
        # a version of a snapshot from before ``made_at`` was made in its second
        (trade.tid, getattr(version, "made_at", version.modified), version.modified)
        for trade in seller.by_created
        for version in trade.versions
    )
    return {"versions": [list(v) for v in versions if v[1] >= since]}


def _presale_truth(world: World, params: dict, data: dict) -> dict:
    seller = _seller(world, params.get("nick", ""))
    return presale.ground_truth(seller.by_created)


def _logistics_truth(world: World, params: dict, data: dict) -> dict:
    seller = _seller(world, params.get("nick", ""))
    return logistics.ground_truth(seller.logistics, seller.by_created, world.now())


def _items_truth(world: World, params: dict, data: dict) -> dict:
    """Every item of the seller now, with each SKU's quantity."""
    return {"items": stock.truth(_stock(world, params))}


def _sales_truth(world: World, params: dict, data: dict) -> dict:
    """Paid units per SKU per GMT+8 day, and the demand shape the history was drawn with."""
    seller = _seller(world, params.get("nick", ""))
    demand = seller.stock.demand.as_dict() if seller.stock is not None else {}
    return {"sales": stock.sales_truth(seller.by_created), "demand": demand}


def _restock(world: World, seller, data: dict) -> dict:
    """A delivery: ``units`` more of ``sku_id``, visible to the item lists after the lag."""
    if seller.stock is None:
        raise ControlError(404, "this seller has no items")
    units = int(data.get("units", 0))
    if units <= 0:
        raise ControlError(400, "units: a positive number")
    return stock.restock(seller.stock, str(data["sku_id"]), units, world.now(), world.draw_lag())


def _stock(world: World, params: dict):
    seller = _seller(world, params.get("nick", ""))
    if seller.stock is None:
        raise ControlError(404, "this seller has no items")
    return seller.stock


def _snapshot(world: World, params: dict, data: dict) -> dict:
    path = data.get("path") or world.snapshot_path
    if not path:
        raise ControlError(400, "give a path, or start the sandbox with --snapshot")
    world.save(path)
    return {"saved": path}


def _oauth(world: World, params: dict, data: dict) -> dict:
    world.oauth_next = {"nick": data.get("nick"), "deny": bool(data.get("deny"))}
    return dict(world.oauth_next)


ENDPOINTS = [
    "POST /_sandbox/apps",
    "POST /_sandbox/sellers",
    "POST /_sandbox/sellers/<nick>/expire_session",
    "POST /_sandbox/sellers/<nick>/revoke",
    "GET /_sandbox/tmc",
    "POST /_sandbox/market",
    "GET|POST /_sandbox/faults",
    "GET /_sandbox/oracle/trades?nick=&fields=",
    "GET /_sandbox/oracle/refunds?nick=&fields=",
    "GET /_sandbox/oracle/versions?nick=&since=",
    "GET /_sandbox/oracle/rejections?nick=",
    "GET /_sandbox/oracle/presale?nick=",
    "GET /_sandbox/oracle/logistics?nick=",
    "GET /_sandbox/oracle/items?nick=",
    "GET /_sandbox/oracle/sales?nick=",
    "POST /_sandbox/sellers/<nick>/restock",
    "GET /_sandbox/stats",
    "GET /_sandbox/time",
    "GET|POST /_sandbox/clock",
    "POST /_sandbox/oauth",
    "POST /_sandbox/snapshot",
]

# (verb, path after /_sandbox/) → handler(world, query parameters, JSON body)
ROUTES = {
    ("POST", "apps"): lambda world, params, data: _apps(world, data),
    ("POST", "sellers"): lambda world, params, data: _sellers(world, data),
    ("GET", "tmc"): lambda world, params, data: world.tmc.stats(world.now()),
    ("POST", "jdp/rds"): lambda world, params, data: _jdp_rds(
        world, str(data["name"]), str(data["url"])
    ),
    ("GET", "jdp"): lambda world, params, data: world.jdp.stats(world),
    ("POST", "market"): lambda world, params, data: _market(world, data),
    ("POST", "faults"): _set_faults,
    ("GET", "faults"): lambda world, params, data: world.faults.as_dict(),
    ("GET", "oracle/trades"): _trades_truth,
    ("GET", "oracle/refunds"): _refunds_truth,
    ("GET", "oracle/rejections"): _rejections_truth,
    ("GET", "oracle/versions"): _versions_truth,
    ("GET", "oracle/presale"): _presale_truth,
    ("GET", "oracle/logistics"): _logistics_truth,
    ("GET", "oracle/items"): _items_truth,
    ("GET", "oracle/sales"): _sales_truth,
    ("GET", "stats"): lambda world, params, data: world.stats(),
    ("GET", "time"): lambda world, params, data: _time(world),
    ("GET", "clock"): lambda world, params, data: _time(world),
    ("POST", "clock"): lambda world, params, data: _clock(world, data),
    ("POST", "snapshot"): _snapshot,
    ("POST", "oauth"): _oauth,
    ("GET", ""): lambda world, params, data: {"endpoints": ENDPOINTS},
}
# POST /_sandbox/sellers/<nick>/<action> → handler(world, seller, JSON body)
SELLER_ROUTES = {"expire_session": _expire_session, "revoke": _revoke, "restock": _restock}


def _apps(world: World, data: dict) -> dict:
    if not data.get("app_key") or not data.get("app_secret"):
        raise ControlError(400, "app_key and app_secret are required")
    app = world.add_app(
        data["app_key"],
        data["app_secret"],
        data.get("calls_per_minute", 0),
        data.get("calls_per_day", 0),
        _methods(data.get("denied_methods")),
    )
    return {
        "app_key": app.app_key,
        "calls_per_minute": app.calls_per_minute,
        "calls_per_day": app.calls_per_day,
        "denied_methods": list(app.denied_methods),
    }


def _methods(value) -> list[str]:
    """A list of known API names (``denied_methods``), or a 400."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise ControlError(400, "denied_methods: a list of API names")
    unknown = sorted(set(value) - set(HANDLERS))
    if unknown:
        raise ControlError(400, f"denied_methods: unknown API {unknown[0]!r}")
    return value


def _sellers(world: World, data: dict) -> dict:
    app_key = data.get("app_key", "")
    if app_key not in world.apps:
        raise ControlError(400, f"unknown app_key {app_key!r}; create it with POST /_sandbox/apps")
    nick = data.get("nick", "")
    if not nick:
        raise ControlError(400, "nick is required")
    seller, created = world.add_seller(
        nick,
        int(data.get("history_trades", 0)),
        float(data.get("history_days", 30)),
        bool(data.get("tmall", False)),
    )
    session = world.issue_session(app_key, nick)
    return {
        "nick": nick,
        "user_id": seller.user_id,
        "session": session.key,
        "created": created,
        "trades": len(seller.trades),
    }


def _market(world: World, data: dict) -> dict:
    seller = _seller(world, data.get("nick", ""))
    rates = seller.rates
    for name in ("trades_per_minute", "changes_per_minute", "refunds_per_minute"):
        if name in data:
            setattr(rates, name, max(0.0, float(data[name])))
    try:
        seller.presale.update(data)
        seller.logistics.update(data)
    except (TypeError, ValueError) as exc:
        raise ControlError(400, f"bad presale or logistics setting: {exc}") from None
    burst = int(data.get("burst", 0))
    if burst:
        activity.new_trades(world, seller, burst, world.now())
    for _ in range(int(data.get("changes", 0))):  # move that many open trades on, now
        activity.random_change(world, seller, world.now())
    shipped = activity.ship(world, seller, int(data.get("ship", 0)), world.now())
    return {
        **seller.presale.as_dict(),
        **seller.logistics.as_dict(),
        "shipped": shipped,
        "nick": seller.nick,
        "trades_per_minute": rates.trades_per_minute,
        "changes_per_minute": rates.changes_per_minute,
        "refunds_per_minute": rates.refunds_per_minute,
        "burst": burst,
        "trades": len(seller.trades),
    }


def _jdp_rds(world: World, name: str, url: str) -> dict:
    """Register the ISV's RDS ``name`` at ``url`` and create the push tables in it (as the
    Jushita console does with its DDL)."""
    try:
        connection = jdp.connect(url)
    except Exception as error:  # unreachable or refused: the caller's URL is wrong
        raise ControlError(400, f"cannot connect to the RDS: {type(error).__name__}") from None
    try:
        jdp.create_tables(connection)
    finally:
        connection.close()
    world.jdp.rds[name] = url
    return {"rds": sorted(world.jdp.rds)}


def _time(world: World) -> dict:
    now = world.now()
    return {
        "time": clock.fmt(now),
        "epoch_ms": int(now * 1000),
        "skew_seconds": world.clock.skew_seconds,
        "moved_seconds": world.clock.moved_seconds,
        "mode": world.clock.mode,
    }


def _clock(world: World, data: dict) -> dict:
    """Move the platform time: ``mode`` (``manual`` stops it, ``real`` lets it run), ``set``
    (a GMT+8 time, or epoch seconds), ``advance`` (seconds; the market acts through them in
    steps of ``step`` seconds, 1 by default)."""
    unknown = sorted(set(data) - {"mode", "set", "advance", "step"})
    if unknown:
        raise ControlError(400, f"clock: unknown field {unknown[0]!r}")
    if "mode" in data:
        world.clock.set_mode(data["mode"])
    if "set" in data:
        world.clock.set(_epoch(data["set"]))
        world.clock_moved()
    seconds = _seconds(data, "advance", 0.0)
    if seconds:
        activity.advance(world, seconds, _seconds(data, "step", 1.0) or 1.0)
    return _time(world)


def _epoch(value) -> float:
    """A GMT+8 ``yyyy-MM-dd HH:mm:ss`` or epoch seconds."""
    if isinstance(value, str):
        return clock.parse(value)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not 946684800 <= value < 4102444800:  # 2000 to 2100; NaN fails too
        raise ControlError(400, "set: yyyy-MM-dd HH:mm:ss (GMT+8) or epoch seconds")
    return float(value)


def _seconds(data: dict, name: str, default: float) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(400, f"{name}: a number of seconds")
    if not 0 <= value <= 366 * 86400:  # NaN fails too
        raise ControlError(400, f"{name}: seconds, from 0 to a year")
    return float(value)


def _seller(world: World, nick: str):
    seller = world.sellers.get(nick)
    if seller is None:
        raise ControlError(404, f"unknown seller {nick!r}")
    return seller


def _oracle_trades(world: World, seller, fields: str | None) -> list[dict]:
    """Every trade's current version: its status and times, when it became visible to the
    list APIs, and the hash of its whole record as ``trade.fullinfo.get`` renders it with
    ``fields`` (every field without them)."""
    out = []
    for trade in seller.by_created:
        version = trade.current
        key = ("content", fields)
        content = version.fragments().get(key)
        if content is None:
            content = version.fragments()[key] = trade_content(version.data, fields)
        out.append(
            {
                "tid": trade.tid,
                "status": version.status,
                "modified": value(version.frozen, "modified"),
                "type": trade.type,
                "created": value(version.frozen, "created"),
                "visible_at": clock.fmt(version.visible_at),
                # the trade lists refuse the seller's searches during a rejection spell
                "listable_at": clock.fmt(world.listable_at(seller.nick, version.visible_at)),
                "content": content,
            }
        )
    return out


def _oracle_refunds(seller, fields: str | None) -> list[dict]:
    """Every refund as ``taobao.refund.get`` renders it now, with the same keys as trades."""
    return [
        {
            "refund_id": r.refund_id,
            "tid": r.tid,
            "type": r.type,
            "oid": r.oid,
            "status": r.status,
            "modified": r.data["modified"],
            "created": r.data["created"],
            # when the refund list began to show the current version (refunds lag too)
            "visible_at": clock.fmt(r.versions[-1].visible_at),
            "content": refund_content(r.data, fields),
        }
        for r in seller.refunds.values()
    ]
