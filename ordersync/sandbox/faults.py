"""Fault switches (each a rate or a duration, all drawn from one seeded RNG) and bans."""

from __future__ import annotations

import math
import random
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields

from ordersync.sandbox.clock import CN_OFFSET
from ordersync.sandbox.market import REFUND_ORDERS
from ordersync.sandbox.protocol import TopError

ISP_SUB_CODES = [
    ("isp.top-remote-connection-timeout", "调用后端服务超时"),
    ("isp.top-remote-service-unavailable", "后端服务不可用"),
    ("isp.remote-connection-error", "远程连接错误"),
    ("isp.top-remote-unknown-error", "后端服务未知错误"),
]
BAN_SUB_CODES = {
    "app": "accesscontrol.limited-by-app-access-count",
    "api": "accesscontrol.limited-by-api-access-count",
    "app-api": "accesscontrol.limited-by-app-api-access-count",
}
# What an incomplete body may lack: "root" is the whole ``<method>_response`` object,
# "count" total_results (or has_next), "list" the list key while rows exist, "item" the
# object of a detail API (trade, refund, time).
INCOMPLETE_PARTS = ("root", "count", "list", "item")
LIST_METHODS = frozenset(
    {
        "taobao.trades.sold.get",
        "taobao.trades.sold.increment.get",
        "taobao.trades.sold.incrementv.get",
    }
)


@dataclass
class Faults:
    """Every switch of ``POST /_sandbox/faults``. Rates are probabilities per gateway call."""

    isp_rate: float = 0.0  # code 15 + isp.* sub_code
    isp_timeout_seconds: float = 0.0  # isp.top-remote-connection-timeout answers this late
    http_500_rate: float = 0.0  # HTTP 500 or 502 with an HTML page
    slow_rate: float = 0.0  # answer after slow_seconds
    slow_seconds: float = 2.0
    hang_rate: float = 0.0  # hold the connection hang_seconds, then drop it unanswered
    hang_seconds: float = 35.0
    malformed_rate: float = 0.0  # HTTP 200 with truncated JSON or an HTML error page
    ban_rate: float = 0.0  # random code 7 bans on top of the calls-per-minute budget
    ban_seconds: int = 0  # length of every ban; 0: until the app's minute budget frees up
    rejection_rate: float = 0.0  # isv.trade-service-rejection on the trade list APIs
    # after one, that seller's trade list calls stay rejected this long (sandbox time)
    rejection_seconds: int = 180
    # HTTP 200 success bodies that lack what a success carries (one part dropped per call)
    incomplete_rate: float = 0.0
    incomplete_parts: list[str] = field(default_factory=lambda: list(INCOMPLETE_PARTS))
    # a trade or refund change is followed by a second version in the same ``modified`` second,
    # different content, visible same_second_delay_seconds after the first
    same_second_rate: float = 0.0
    same_second_delay_seconds: int = 5
    tie_shuffle: bool = False  # rows of equal ``modified`` change order between page calls
    max_page_no: int = 0  # deepest page_no the list APIs answer (0: no limit)
    # Visibility lag of the list APIs, drawn per change made from now on (``draw_lag``):
    # lag_seconds for every change, plus, for a share lag_tail_rate of them, a Pareto tail
    # (scale lag_tail_seconds, shape lag_tail_alpha: smaller is heavier), the total capped
    # at lag_max_seconds (the platform's peak notices speak of up to ~10 minutes).
    lag_seconds: int = 0
    lag_tail_rate: float = 0.0
    lag_tail_seconds: float = 30.0
    lag_tail_alpha: float = 1.5
    lag_max_seconds: int = 600
    # incrementv.get stamps ``async_modified`` this many seconds before the change is listed
    # (a stamp taken before the store's commit: UNCONFIRMED, the harsher guess)
    visible_early_seconds: int = 0
    skew_seconds: float = 0.0  # sandbox clock = real clock + skew
    drift_rate: float = 0.0  # chance, per increment.get page, that trades in its window change
    drift_trades: int = 1  # how many trades one drift event changes
    # order of the refund list, which the platform does not document (docs/platform.md §4.8):
    # "modified_desc" (like the trade lists) or "created_asc" (stable: created, refund_id)
    refund_order: str = "modified_desc"
    peak_mode: bool = False  # list APIs omit orders, payment and logistics fields
    session_ttl_seconds: int = 30 * 86400  # lifetime of sessions issued from now on
    tmc_drop_rate: float = 0.0  # TMC messages never queued
    tmc_duplicate_rate: float = 0.0  # TMC messages queued twice (two ids)
    tmc_reorder_rate: float = 0.0  # held back up to tmc_reorder_seconds; batches shuffled
    tmc_reorder_seconds: float = 3.0
    tmc_visibility_seconds: float = 30.0  # a consumed, unconfirmed message comes back then
    # Jushita data push (sandbox/jdp.py): delay per change, a heavy tail, rows stamped in the
    # past, and a cap on rows pushed per second (0: none)
    jdp_delay_seconds: float = 1.0
    jdp_delay_tail_rate: float = 0.0
    jdp_delay_max_seconds: float = 30.0
    jdp_reorder_rate: float = 0.0
    jdp_reorder_seconds: float = 3.0
    jdp_push_per_second: int = 0
    methods: list[str] = field(default_factory=list)  # faults apply only to these (empty: all)
    # trade.fullinfo.get answers isv.trade-not-exist for these tids, though the lists show
    # them (a detail index lagging behind the lists)
    hidden_tids: list[str] = field(default_factory=list)
    # the trade list APIs send these tids without ``modified`` (a malformed record)
    malformed_tids: list[str] = field(default_factory=list)

    def update(self, values: dict) -> None:
        known = {f.name: f for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {sorted(known)}")
            current = getattr(self, name)
            if isinstance(current, str):
                value = str(value)
                if name == "refund_order" and value not in REFUND_ORDERS:
                    raise ValueError(f"refund_order must be one of {list(REFUND_ORDERS)}")
            elif isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, list):
                value = [str(v) for v in (value or [])]
            elif isinstance(current, int):
                value = int(value)
            else:
                value = float(value)
            if name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            if name == "incomplete_parts" and not set(value) <= set(INCOMPLETE_PARTS):
                raise ValueError(f"incomplete_parts: each one of {list(INCOMPLETE_PARTS)}")
            setattr(self, name, value)

    def as_dict(self) -> dict:
        return asdict(self)

    def __setstate__(self, state: dict) -> None:
        # a snapshot saved before a switch existed gets the switch's default
        self.__dict__.update({**asdict(type(self)()), **state})

    def draw_lag(self, rng: random.Random) -> int:
        """The visibility lag of one change, whole seconds: the constant part, plus a heavy
        tail for a share of the changes, never above ``lag_max_seconds`` (unless the
        constant part alone is above it)."""
        lag = float(self.lag_seconds)
        if self.lag_tail_rate and rng.random() < self.lag_tail_rate:
            tail = self.lag_tail_seconds * rng.paretovariate(max(0.1, self.lag_tail_alpha))
            lag = min(lag + tail, max(lag, float(self.lag_max_seconds)))
        return max(0, round(lag))

    def applies_to(self, method: str) -> bool:
        return not self.methods or method in self.methods


class Bans:
    """Active code-7 bans by scope, and the per-app calls-per-minute budget (real time)."""

    def __init__(self) -> None:
        self.until: dict[tuple, float] = {}
        self.calls: dict[str, deque] = {}
        self.daily: dict[tuple[str, int], int] = {}
        self.issued = 0

    def check(self, app_key: str, method: str) -> None:
        """Raise code 7 while a ban covers this call."""
        now = time.monotonic()
        for scope, sub_code in (
            (("app", app_key), BAN_SUB_CODES["app"]),
            (("app-api", app_key, method), BAN_SUB_CODES["app-api"]),
            (("api", method), BAN_SUB_CODES["api"]),
        ):
            until = self.until.get(scope)
            if until is None:
                continue
            if now < until:
                raise ban_error(sub_code, until - now)
            del self.until[scope]
            if scope[0] == "app":
                self.calls.pop(app_key, None)  # a fresh budget once the ban is over

    def spend(self, app_key: str, calls_per_minute: int, ban_seconds: int) -> None:
        """Count one call against the app's budget; over budget starts an app-wide ban."""
        if calls_per_minute <= 0:
            return
        now = time.monotonic()
        window = self.calls.setdefault(app_key, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= calls_per_minute:
            seconds = ban_seconds or max(1, math.ceil(window[0] + 60 - now))
            raise self.ban(("app", app_key), BAN_SUB_CODES["app"], seconds)
        window.append(now)

    def spend_daily(self, app_key: str, calls_per_day: int, now: float) -> None:
        """Count one call against the app's daily quota (platform days, GMT+8); over quota
        bans the app until the next platform midnight."""
        if calls_per_day <= 0:
            return
        day = int((now + CN_OFFSET) // 86400)
        key = (app_key, day)
        used = self.daily.get(key, 0)
        if used >= calls_per_day:
            seconds = (day + 1) * 86400 - CN_OFFSET - now
            raise self.ban(("app", app_key), BAN_SUB_CODES["app"], seconds)
        self.daily[key] = used + 1

    def ban(self, scope: tuple, sub_code: str, seconds: float) -> TopError:
        self.until[scope] = time.monotonic() + seconds
        self.issued += 1
        return ban_error(sub_code, seconds)


def ban_error(sub_code: str, remaining: float) -> TopError:
    seconds = max(1, math.ceil(remaining - 1e-6))
    return TopError(7, sub_code, f"This ban will last for {seconds} more seconds")
