"""Seller authorisation: the OAuth code exchange and the refresh (refresh tokens rotate).

Reference: https://open.taobao.com/doc.htm?docId=102635&docType=1 (用户授权介绍)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import requests

from ordersync.taobao import transport
from ordersync.taobao.client import AppCredentials
from ordersync.taobao.errors import (
    ConfigurationError,
    SessionInvalid,
    TopError,
    error_from_response,
)

TOKEN_METHOD = "oauth.token"


@dataclass(frozen=True)
class TokenResult:
    """A token response; tokens never show in repr. ``raw`` keeps every field as sent."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    re_expires_in: int
    taobao_user_id: str
    taobao_user_nick: str
    obtained_at: datetime
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def expires_at(self) -> datetime:
        return self.obtained_at + timedelta(seconds=self.expires_in)

    @property
    def refresh_expires_at(self) -> datetime | None:
        """None when the refresh token does not expire separately (re_expires_in 0)."""
        if not self.re_expires_in:
            return None
        return self.obtained_at + timedelta(seconds=self.re_expires_in)


def exchange_code(
    app: AppCredentials, code: str, redirect_uri: str, *, http: requests.Session | None = None
) -> TokenResult:
    """Trade the ``code`` from the authorize redirect for the seller's tokens."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return _token_request(app, form, http)


def refresh(
    app: AppCredentials, refresh_token: str, *, http: requests.Session | None = None
) -> TokenResult:
    """New tokens for an old refresh token; store the returned refresh_token, it rotates."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _token_request(app, form, http)


def _token_request(
    app: AppCredentials, form: dict[str, str], http: requests.Session | None
) -> TokenResult:
    if not app.token_url:
        raise ConfigurationError("the app has no token_url", method=TOKEN_METHOD)
    form = {**form, "client_id": app.app_key, "client_secret": app.app_secret}
    http = http or transport.new_http_session()
    try:
        response = http.post(app.token_url, data=form, timeout=(5.0, 30.0))
    except requests.RequestException as exc:
        raise transport.transport_error(exc, TOKEN_METHOD) from None
    payload = _json_or_none(response)
    if isinstance(payload, dict) and payload.get("error"):
        raise _oauth_error(payload)
    if isinstance(payload, dict) and "error_response" in payload:
        raise error_from_response(payload, TOKEN_METHOD)
    payload = transport.decode_json(response.status_code, response.content, TOKEN_METHOD)
    return _token_result(payload)


def _token_result(payload: dict[str, Any]) -> TokenResult:
    return TokenResult(
        access_token=str(payload["access_token"]),
        refresh_token=str(payload.get("refresh_token") or ""),
        expires_in=int(payload.get("expires_in") or 0),
        re_expires_in=int(payload.get("re_expires_in") or 0),
        taobao_user_id=str(payload.get("taobao_user_id") or ""),
        # the nick arrives URL-encoded
        taobao_user_nick=unquote(str(payload.get("taobao_user_nick") or "")),
        obtained_at=datetime.fromtimestamp(time.time(), UTC),
        raw=payload,
    )


def _oauth_error(payload: dict[str, Any]) -> TopError:
    """invalid_grant means the seller must authorise again; other errors are our setup."""
    error = str(payload.get("error"))
    description = str(payload.get("error_description") or "")
    kind = SessionInvalid if error in ("invalid_grant", "invalid_token") else ConfigurationError
    return kind(description or error, sub_code=error, method=TOKEN_METHOD)


def _json_or_none(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
