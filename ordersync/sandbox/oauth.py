"""Seller authorization: ``/authorize`` (code flow) and ``/token`` (code and refresh grants).

Reference: docs/platform.md §9. Refresh tokens rotate: each refresh returns a new one and the old
one stops working. Sessions expire after ``session_ttl_seconds`` and then get code 27.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, quote, urlencode

from ordersync.sandbox.world import Session, World

REFRESH_EXTRA_SECONDS = 30 * 86400


def authorize(world: World, query: str) -> tuple[int, dict, bytes]:
    """Return (status, headers, body): a redirect with ``code``/``state`` or ``error``."""
    params = dict(parse_qsl(query))
    with world.lock:
        app = world.apps.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if app is None or not redirect_uri:
            return _json(400, {"error": "invalid_client", "error_description": "unknown client_id"})
        if params.get("response_type", "code") != "code":
            return _json(400, {"error": "unsupported_response_type"})
        decision = dict(world.oauth_next)
        nick = params.get("nick") or decision.get("nick") or next(iter(world.sellers), "")
        answer: dict[str, str] = {}
        if decision.get("deny") or not nick:
            answer = {"error": "access_denied", "error_description": "authorize reject"}
        else:
            world.add_seller(nick)
            code = world.new_token("code")
            world.oauth_codes[code] = (app.app_key, nick)
            answer = {"code": code}
        if params.get("state"):
            answer["state"] = params["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return 302, {"Location": redirect_uri + separator + urlencode(answer)}, b""


def token(world: World, body: bytes, query: str) -> tuple[int, dict, bytes]:
    params = dict(parse_qsl(query))
    params.update(parse_qsl(body.decode("utf-8", "replace")))
    with world.lock:
        app = world.apps.get(params.get("client_id", ""))
        if app is None or params.get("client_secret") != app.app_secret:
            return _json(401, {"error": "invalid_client", "error_description": "bad client"})
        grant = params.get("grant_type", "")
        if grant == "authorization_code":
            found = world.oauth_codes.pop(params.get("code", ""), None)
            if found is None or found[0] != app.app_key:
                return _invalid_grant("invalid or used authorization code")
            nick = found[1]
        elif grant == "refresh_token":
            old = world.refresh_tokens.pop(params.get("refresh_token", ""), None)
            if old is None or old.app_key != app.app_key or old.expires_at <= world.now():
                return _invalid_grant("invalid refresh_token")
            nick = old.nick
        else:
            return _json(400, {"error": "unsupported_grant_type"})
        return _json(200, _issue(world, app.app_key, nick))


def _issue(world: World, app_key: str, nick: str) -> dict:
    session = world.issue_session(app_key, nick)
    now = world.now()
    ttl = round(session.expires_at - now)
    refresh = Session(
        world.new_token("7"), app_key, nick, session.expires_at + REFRESH_EXTRA_SECONDS
    )
    world.refresh_tokens[refresh.key] = refresh
    seller = world.sellers[nick]
    expire_ms = int(session.expires_at * 1000)
    return {
        "access_token": session.key,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_token": refresh.key,
        "re_expires_in": ttl + REFRESH_EXTRA_SECONDS,
        "r1_expires_in": ttl,
        "r2_expires_in": min(ttl, 259200),
        "w1_expires_in": ttl,
        "w2_expires_in": min(ttl, 1800),
        "taobao_user_id": str(seller.user_id),
        "taobao_user_nick": quote(nick),
        "taobao_open_uid": f"AAE{seller.user_id:x}",
        "expire_time": expire_ms,
        "refresh_token_valid_time": int(refresh.expires_at * 1000),
        "r1_valid": expire_ms,
        "r2_valid": int((now + min(ttl, 259200)) * 1000),
        "w1_valid": expire_ms,
        "w2_valid": int((now + min(ttl, 1800)) * 1000),
    }


def _invalid_grant(description: str):
    return _json(400, {"error": "invalid_grant", "error_description": description})


def _json(status: int, payload: dict) -> tuple[int, dict, bytes]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return status, {"Content-Type": "application/json;charset=UTF-8"}, body
