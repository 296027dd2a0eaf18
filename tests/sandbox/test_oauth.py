"""OAuth: /authorize redirects, /token grants, rotating refresh tokens, session expiry."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.sandbox_http import APP_KEY, APP_SECRET, Top, control, error_of, make_seller

REDIRECT = "https://isv.example/callback"


def authorize(sb, **extra):
    params = {"response_type": "code", "client_id": APP_KEY, "redirect_uri": REDIRECT}
    params.update(extra)
    response = requests.get(f"{sb.url}/authorize", params=params, allow_redirects=False)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token(sb, **form):
    form = {"client_id": APP_KEY, "client_secret": APP_SECRET, **form}
    return requests.post(f"{sb.url}/token", data=form)


def test_code_flow_refresh_rotation_and_session_use(sb, app):
    make_seller(sb, "oauth-shop", history_trades=20)
    control(sb, "POST", "oauth", {"nick": "oauth-shop"})
    answer = authorize(sb, state="xyz")
    assert answer["state"] == "xyz" and answer["code"]
    response = token(
        sb, grant_type="authorization_code", code=answer["code"], redirect_uri=REDIRECT
    )
    assert response.status_code == 200
    first = response.json()
    for name in (
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "re_expires_in",
        "r1_expires_in",
        "r2_expires_in",
        "w1_expires_in",
        "w2_expires_in",
        "taobao_user_id",
        "taobao_user_nick",
    ):
        assert name in first
    assert first["taobao_user_nick"] == "oauth-shop"
    assert token(sb, grant_type="authorization_code", code=answer["code"]).status_code == 400

    client = Top(sb, session=first["access_token"])
    client.ok("taobao.trades.sold.get", fields="tid")

    second = token(sb, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (
        token(sb, grant_type="refresh_token", refresh_token=first["refresh_token"]).status_code
        == 400
    )
    assert token(sb, grant_type="refresh_token", refresh_token=second["refresh_token"]).ok
    Top(sb, session=second["access_token"]).ok("taobao.trades.sold.get", fields="tid")


def test_denied_authorization(sb, app):
    control(sb, "POST", "oauth", {"deny": True})
    answer = authorize(sb, state="s1")
    assert answer == {
        "error": "access_denied",
        "error_description": "authorize reject",
        "state": "s1",
    }


def test_bad_client_secret(sb, app):
    response = token(sb, grant_type="authorization_code", code="x", client_secret="wrong")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_sessions_expire_after_the_configured_time(sb, app):
    control(sb, "POST", "faults", {"session_ttl_seconds": 60})
    answer = authorize(sb, nick="short-lived")
    issued = token(sb, grant_type="authorization_code", code=answer["code"]).json()
    assert issued["expires_in"] == 60
    client = Top(sb, session=issued["access_token"])
    client.ok("taobao.trades.sold.get", fields="tid")
    control(sb, "POST", "faults", {"skew_seconds": 61})
    error = error_of(client.call("taobao.trades.sold.get", fields="tid"))
    assert (error["code"], error["sub_code"]) == (27, "invalid-sessionkey")
