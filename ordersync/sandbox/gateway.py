"""``/router/rest``: system-parameter checks, bans, injected faults, then the API handler.

Check order: method (21) → app key (28/29) → signature (24/25) → timestamp (30/31) →
version (32/34) → known method (22) → the app's API permissions (11) → bans and the app's
budget (7) → session (26/27) → injected faults → the handler.
"""

from __future__ import annotations

from dataclasses import dataclass

from ordersync.sandbox.apis import HANDLERS, Call
from ordersync.sandbox.faults import BAN_SUB_CODES, ISP_SUB_CODES, LIST_METHODS, Faults
from ordersync.sandbox.protocol import (
    TopError,
    check_timestamp,
    merge_params,
    render,
    render_error,
)
from ordersync.sandbox.world import World
from ordersync.taobao.signing import SIGN_METHODS, sign

HTML_ERROR = (
    b'<html><head><title>502 Bad Gateway</title></head><body bgcolor="white">'
    b"<center><h1>502 Bad Gateway</h1></center><hr><center>Tengine</center></body></html>"
)


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    delay: float = 0.0  # sleep this long before answering
    hang: float = 0.0  # sleep this long, then drop the connection unanswered


def handle(world: World, query: str, body: bytes, content_type: str) -> Reply:
    params = merge_params(query, body, content_type)
    fmt = params.get("format") or "xml"
    simplify = params.get("simplify", "").lower() == "true"
    with world.lock:
        try:
            if fmt not in ("json", "xml"):
                fmt = "json"
                raise TopError(23)
            method, result = _process(world, params)
        except _Injected as injected:
            return injected.reply
        except TopError as error:
            world.errors[error.code] += 1
            return Reply(200, *render_error(error, fmt))
        result = _incomplete(world, method, result)
        if result is None:  # a success without its response root
            reply = Reply(200, "application/json;charset=UTF-8", b"{}")
        else:
            reply = Reply(200, *render(method, result, fmt, simplify))
        _after(world, method, reply)
    return reply


def wrong_verb(world: World, query: str) -> Reply:
    """Any verb but GET and POST: code 9, "use uppercase POST or GET" (docs/platform.md §3.1)."""
    fmt = merge_params(query, b"", "").get("format") or "xml"
    with world.lock:
        world.errors[9] += 1
    return Reply(200, *render_error(TopError(9), "json" if fmt == "json" else "xml"))


class _Injected(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def _process(world: World, params: dict) -> tuple[str, dict]:
    method = params.get("method", "")
    if not method:
        raise TopError(21)
    app_key = params.get("app_key", "")
    if not app_key:
        raise TopError(28)
    app = world.apps.get(app_key)
    if app is None:
        raise TopError(29, "isv.appkey-not-exists", f"app key {app_key} does not exist")
    world.calls[method][app_key] += 1
    _check_signature(params, app.app_secret)
    now = world.now()
    check_timestamp(params.get("timestamp"), now)
    if not params.get("v"):
        raise TopError(32)
    if params["v"] != "2.0":
        raise TopError(34)
    if method not in HANDLERS:
        raise TopError(22, "", f"method {method} does not exist")
    if method in app.denied_methods:
        raise no_permission(method)
    world.bans.check(app_key, method)
    world.bans.spend(app_key, app.calls_per_minute, world.faults.ban_seconds)
    world.bans.spend_daily(app_key, app.calls_per_day, now)
    handler, needs_session = HANDLERS[method]
    call = Call(world, method, params, now)
    call.json = params.get("format") == "json"
    call.wrap = call.json and params.get("simplify", "").lower() != "true"
    if needs_session:
        call.seller = _seller_of_session(world, params.get("session", ""), app_key, now)
    _inject(world, method, app_key, params.get("format") or "xml", call.seller)
    return method, handler(call)


def no_permission(method: str) -> TopError:
    """An API the app's permission packages do not include. Code 11 and this sub_code are
    what docs/platform.md §3.1–3.2 records (a public capture); whether the platform checks the
    permission before or after flow control is UNCONFIRMED: here it comes first, so a
    refused call spends no budget."""
    return TopError(11, "isv.permission-api-package-limit", f"no permission for {method}")


def _check_signature(params: dict, secret: str) -> None:
    given = params.get("sign", "")
    if not given:
        raise TopError(24)
    sign_method = params.get("sign_method") or "md5"
    if sign_method not in SIGN_METHODS:
        raise TopError(25, "", f"unsupported sign_method {sign_method}")
    given = given.upper()
    if sign(params, secret, sign_method) == given:
        return
    # How the platform treats a present, empty parameter is not documented (docs/platform.md §1.4).
    # The Java SDK never sends one; the Python, PHP and Go SDKs send it and sign it as a
    # bare name. Both must work against the sandbox, so both forms are accepted.
    has_empty = any(value == "" for name, value in params.items() if name != "sign")
    if has_empty and sign(params, secret, sign_method, include_empty=True) == given:
        return
    raise TopError(25)


def _seller_of_session(world: World, key: str, app_key: str, now: float):
    if not key:
        raise TopError(26)
    session = world.sessions.get(key)
    if session is None or session.app_key != app_key or session.expires_at <= now:
        raise TopError(27, "invalid-sessionkey", "SessionKey非法")
    return world.sellers[session.nick]


def _inject(world: World, method: str, app_key: str, fmt: str, seller=None) -> None:
    """Raise the faults drawn for this call (before the handler runs)."""
    faults = world.faults
    if method in LIST_METHODS and seller is not None:
        _still_rejected(world, seller.nick)
    if not faults.applies_to(method):
        return
    rng = world.fault_rng
    if faults.hang_rate and rng.random() < faults.hang_rate:
        world.injected["hang"] += 1
        raise _Injected(Reply(0, "", b"", hang=faults.hang_seconds))
    if faults.http_500_rate and rng.random() < faults.http_500_rate:
        status = rng.choice([500, 502])
        world.injected[f"http_{status}"] += 1
        raise _Injected(
            Reply(status, "text/html", HTML_ERROR.replace(b"502", str(status).encode()))
        )
    if faults.ban_rate and rng.random() < faults.ban_rate:
        world.injected["ban"] += 1
        scope_kind = rng.choice(["app-api", "api"])
        scope = ("app-api", app_key, method) if scope_kind == "app-api" else ("api", method)
        raise world.bans.ban(scope, BAN_SUB_CODES[scope_kind], faults.ban_seconds or 2)
    if faults.isp_rate and rng.random() < faults.isp_rate:
        world.injected["isp"] += 1
        sub_code, sub_msg = rng.choice(ISP_SUB_CODES)
        error = TopError(15, sub_code, sub_msg)
        if sub_code == "isp.top-remote-connection-timeout" and faults.isp_timeout_seconds:
            world.errors[15] += 1
            reply = Reply(200, *render_error(error, fmt), delay=faults.isp_timeout_seconds)
            raise _Injected(reply)
        raise error
    if method in LIST_METHODS and faults.rejection_rate and rng.random() < faults.rejection_rate:
        world.injected["rejection"] += 1
        if seller is not None:
            now = world.now()
            spell = (now, now + faults.rejection_seconds)
            world.rejections.setdefault(seller.nick, []).append(spell)
        raise _rejection()


def _still_rejected(world: World, nick: str) -> None:
    """The platform's rejection says "3分钟后再查询": until then the shop's searches fail."""
    now = world.now()
    if world.listable_at(nick, now) > now:
        world.injected["rejection_held"] += 1
        raise _rejection()


def _rejection() -> TopError:
    return TopError(
        15, "isv.trade-service-rejection", "超时请求过多，请将查询时间间隔缩短,3分钟后再查询！"
    )


COUNT_KEYS = ("total_results", "has_next")
LIST_KEYS = ("trades", "refunds", "trace_list", "items")
ITEM_KEYS = ("trade", "refund", "time", "status", "item")


def _incomplete(world: World, method: str, result: dict) -> dict | None:
    """``result`` without one part a success must carry (None: without its root), when the
    incomplete-body fault is drawn for this call; else ``result`` as it is."""
    faults: Faults = world.faults
    if not faults.incomplete_rate or not faults.applies_to(method):
        return result
    if world.fault_rng.random() >= faults.incomplete_rate:
        return result
    parts = {
        "root": [None],
        "count": [k for k in COUNT_KEYS if k in result],
        "list": [k for k in LIST_KEYS if result.get(k)],
        "item": [k for k in ITEM_KEYS if k in result],
    }
    choices = [(part, keys) for part, keys in parts.items() if part in faults.incomplete_parts]
    choices = [(part, keys) for part, keys in choices if keys]
    if not choices:
        return result
    part, keys = world.fault_rng.choice(choices)
    world.injected[f"incomplete_{part}"] += 1
    if part == "root":
        return None
    return {k: v for k, v in result.items() if k not in keys}


def _after(world: World, method: str, reply: Reply) -> None:
    """Faults applied to a finished answer: malformed bodies and slow responses."""
    faults = world.faults
    if not faults.applies_to(method):
        return
    rng = world.fault_rng
    if faults.malformed_rate and rng.random() < faults.malformed_rate:
        world.injected["malformed"] += 1
        if rng.random() < 0.5:
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        else:
            reply.content_type, reply.body = "text/html", HTML_ERROR
    if faults.slow_rate and rng.random() < faults.slow_rate:
        world.injected["slow"] += 1
        reply.delay = faults.slow_seconds
