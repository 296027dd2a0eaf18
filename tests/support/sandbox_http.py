"""A sandbox called over plain HTTP: a minimal signed TOP client, the control API, sellers."""

from __future__ import annotations

import requests

from ordersync.sandbox.clock import fmt
from ordersync.taobao.signing import sign

APP_KEY = "12345678"
APP_SECRET = "helloworld"


class Top:
    """A minimal TOP client: system params in the query string, business params in the body."""

    def __init__(self, sb, app_key=APP_KEY, secret=APP_SECRET, session=None) -> None:
        self.sb = sb
        self.app_key = app_key
        self.secret = secret
        self.session = session
        self.http = requests.Session()

    def system(self, method: str, sign_method: str = "md5", **extra) -> dict:
        params = {
            "method": method,
            "app_key": self.app_key,
            "timestamp": fmt(self.sb.state.now()),
            "format": "json",
            "v": "2.0",
            "sign_method": sign_method,
        }
        if self.session:
            params["session"] = self.session
        params.update(extra)
        return params

    def raw(self, query: dict, body: dict | None = None, secret: str | None = None, **kw):
        """POST with ``query`` in the URL and ``body`` as a form; sign over both."""
        signed = {**query, **(body or {})}
        if "sign" not in query:
            query = {
                **query,
                "sign": sign(signed, secret or self.secret, query.get("sign_method", "md5")),
            }
        return self.http.post(self.sb.gateway_url, params=query, data=body or {}, **kw)

    def call(self, method: str, sign_method: str = "md5", system: dict | None = None, **params):
        """Call ``method`` and return the parsed JSON body."""
        response = self.raw(self.system(method, sign_method, **(system or {})), params)
        assert response.status_code == 200, response.text
        return response.json()

    def ok(self, method: str, **params) -> dict:
        """Call and return the inner response object, failing on error_response."""
        body = self.call(method, **params)
        assert "error_response" not in body, body
        return body[method[len("taobao.") :].replace(".", "_") + "_response"]


def error_of(body: dict) -> dict:
    assert "error_response" in body, body
    return body["error_response"]


def trades_of(inner: dict) -> list[dict]:
    return inner.get("trades", {}).get("trade", [])


def control(sb, verb: str, path: str, payload: dict | None = None, **params):
    response = requests.request(verb, f"{sb.url}/_sandbox/{path}", json=payload, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def later(sb, seconds: float) -> dict:
    """Move the sandbox's clock on by ``seconds`` instead of waiting for them."""
    return control(sb, "POST", "clock", {"advance": seconds})


def make_seller(sb, nick="shop-a", history_trades=300, history_days=10) -> dict:
    return control(
        sb,
        "POST",
        "sellers",
        {
            "app_key": APP_KEY,
            "nick": nick,
            "history_trades": history_trades,
            "history_days": history_days,
        },
    )


def oracle(sb, nick="shop-a") -> list[dict]:
    return control(sb, "GET", "oracle/trades", nick=nick)["trades"]
