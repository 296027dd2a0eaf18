"""The signed, rate-limited, retrying TOP call."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import requests

from ordersync.taobao import instrument, transport
from ordersync.taobao.errors import RateLimited, TopError
from ordersync.taobao.instrument import CallRecord
from ordersync.taobao.retry import RetryPolicy
from ordersync.taobao.signing import SIGN_METHODS, sign
from ordersync.taobao.types import PLATFORM_TZ, format_time, to_wire

logger = logging.getLogger(__name__)
PARTNER_ID = "ordersync-top-1"
TIME_METHOD = "taobao.time.get"


@dataclass(frozen=True)
class AppCredentials:
    """An ISV app on TOP. The secret never shows in repr or logs."""

    app_key: str
    app_secret: str = field(repr=False)
    gateway_url: str
    sign_method: str = "hmac-sha256"
    token_url: str = ""

    def __post_init__(self) -> None:
        if self.sign_method not in SIGN_METHODS:
            raise ValueError(f"sign_method must be one of {SIGN_METHODS}")


class Limiter(Protocol):
    def acquire(self, app_key: str, shop_key: str | None = None, *, method: str = "") -> float:
        """Block until a call is allowed; return the seconds waited."""

    def record_ban(self, app_key: str, scope: str, method: str, seconds: float) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class LocalClock:
    """The machine's clock; production passes a PlatformClock instead."""

    def now(self) -> datetime:
        return datetime.now(PLATFORM_TZ)


class NoLimiter:
    def acquire(self, app_key: str, shop_key: str | None = None, *, method: str = "") -> float:
        return 0.0

    def record_ban(self, app_key: str, scope: str, method: str, seconds: float) -> None:
        return None


class TopClient:
    """Calls one app's gateway. ``calls`` counts HTTP requests made by this instance.

    ``shop_key`` names the shop the calls are made for: the shared limiter hands scarce
    tokens to the shop served longest ago, so a busy shop cannot starve the others. A
    client without one counts as a single app-level caller.
    """

    def __init__(
        self,
        app: AppCredentials,
        *,
        limiter: Limiter | None = None,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        http: requests.Session | None = None,
        simplify: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        shop_key: str | None = None,
    ) -> None:
        self.app = app
        self.shop_key = shop_key
        self.limiter = limiter or NoLimiter()
        self.clock = clock or LocalClock()
        self.policy = policy or RetryPolicy()
        self.on_call = on_call
        self.timeout = (connect_timeout, read_timeout)
        self.http = http or transport.new_http_session()
        self.simplify = simplify
        self.sleep = sleep
        self.calls = 0

    def __repr__(self) -> str:
        return f"<TopClient app_key={self.app.app_key} gateway={self.app.gateway_url}>"

    def for_shop(self, shop_key: str) -> TopClient:
        """This client bound to ``shop_key``: the same app, limiter, clock, policy and
        connection pool; its own ``calls`` counter (the calls made for that shop)."""
        if self.shop_key == shop_key:
            return self
        bound = copy.copy(self)
        bound.shop_key = shop_key
        bound.calls = 0
        return bound

    def call(
        self,
        method: str,
        params: dict[str, Any],
        *,
        session: str | None = None,
        shop_key: str | None = None,
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Signed call with limiter + retry policy; returns the response body inside
        ``<root>_response`` (or the simplify body) with wrapped lists flattened.

        ``shop_key`` overrides the client's own for this call. ``check`` raises on a
        success body that lacks what the API's success carries; it is retried like any
        broken answer."""
        shop_key = shop_key if shop_key is not None else self.shop_key
        attempt = 0
        while True:
            attempt += 1
            self.limiter.acquire(self.app.app_key, shop_key, method=method)
            try:
                return self._call_once(method, params, session, check)
            except TopError as error:
                if isinstance(error, RateLimited):
                    self.limiter.record_ban(
                        self.app.app_key, error.scope, method, error.ban_seconds
                    )
                if not self.policy.should_retry(error, attempt):
                    raise
                delay = self.policy.sleep_seconds(error, attempt)
                logger.info(
                    "TOP %s attempt %d failed (%s: %s), retrying in %.2fs",
                    method,
                    attempt,
                    type(error).__name__,
                    error.sub_code or error.code,
                    delay,
                )
                self.sleep(delay)

    def _call_once(
        self,
        method: str,
        params: dict[str, Any],
        session: str | None,
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        query, form = self._signed(method, params, session)
        started = time.monotonic()
        self.calls += 1
        try:
            status, content = transport.post(
                self.http,
                self.app.gateway_url,
                query=query,
                form=form,
                timeout=self.timeout,
                method=method,
            )
            payload = transport.decode_json(status, content, method)
            body = transport.unwrap(payload, method, simplify=self.simplify)
            if check is not None:
                check(body)
        except TopError as error:
            self._report(method, started, type(error).__name__, error.code, error.sub_code)
            raise
        self._report(method, started, "ok", None, None)
        return body

    def _signed(
        self, method: str, params: dict[str, Any], session: str | None
    ) -> tuple[dict[str, str], dict[str, str]]:
        """System params for the query string, business params for the form body."""
        system: dict[str, str | None] = {
            "method": method,
            "app_key": self.app.app_key,
            "timestamp": format_time(self.clock.now()),
            "v": "2.0",
            "sign_method": self.app.sign_method,
            "format": "json",
            "partner_id": PARTNER_ID,
            "simplify": "true" if self.simplify else None,
            "session": session or None,
        }
        sent = {k: v for k, v in system.items() if v is not None}
        # Never send an empty param: whether the server signs it is unknown (docs/platform.md §1.4).
        form = {k: w for k, v in params.items() if (w := to_wire(v)) is not None}
        sent["sign"] = sign({**form, **sent}, self.app.app_secret, self.app.sign_method)
        return sent, form

    def _report(
        self, method: str, started: float, outcome: str, code: int | None, sub_code: str | None
    ) -> None:
        record = CallRecord(
            method=method,
            app_key=self.app.app_key,
            duration=time.monotonic() - started,
            outcome=outcome,
            code=code,
            sub_code=sub_code,
        )
        logger.debug("TOP %s %s in %.3fs", method, outcome, record.duration)
        if self.on_call is not None:
            try:
                self.on_call(record)
            except Exception:
                logger.exception("on_call hook failed for %s", method)
        instrument.emit(record)
