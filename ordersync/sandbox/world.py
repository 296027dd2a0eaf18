"""The sandbox's whole in-memory world: apps, sellers, sessions, faults and statistics.

One re-entrant lock guards everything; the gateway, the control API and the live market
thread take it for each operation.
"""

from __future__ import annotations

import os
import pickle
import random
import threading
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass

from ordersync.sandbox import activity, jdp, lifecycle, tmc
from ordersync.sandbox.clock import Clock
from ordersync.sandbox.faults import Bans, Faults
from ordersync.sandbox.market import Seller


@dataclass
class App:
    app_key: str
    app_secret: str
    calls_per_minute: int = 0  # 0: no budget
    calls_per_day: int = 0  # 0: no daily quota
    # APIs this app has no permission package for: answered with code 11 (a tuple, so that
    # snapshots saved before this field read the class default)
    denied_methods: tuple[str, ...] = ()


@dataclass
class Session:
    key: str
    app_key: str
    nick: str
    expires_at: float  # platform time


class World:
    """Everything the sandbox knows; ``sandbox.state`` in tests."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.lock = threading.RLock()
        self.clock = Clock()
        self.faults = Faults()
        self.fault_rng = random.Random(f"{seed}:faults")
        # Lags get a stream of their own: the lag each change draws then does not depend
        # on how many calls a client made in between.
        self.lag_rng = random.Random(f"{seed}:lag")
        self.token_rng = random.Random(f"{seed}:tokens")
        self.ids = lifecycle.Ids()
        self.bans = Bans()
        self.apps: dict[str, App] = {}
        self.sellers: dict[str, Seller] = {}
        self.sessions: dict[str, Session] = {}
        self.refresh_tokens: dict[str, Session] = {}
        self.oauth_codes: dict[str, tuple[str, str]] = {}
        self.oauth_next: dict = {}
        self.calls: dict[str, Counter] = defaultdict(Counter)
        self.injected: Counter = Counter()
        self.errors: Counter = Counter()
        self.snapshot_path: str | None = None
        self.tmc = tmc.Tmc(seed)
        self.jdp = jdp.Jdp(seed)
        # isv.trade-service-rejection is stateful: seller nick -> the spells (sandbox times,
        # start and end, in order) during which the seller's searches are refused
        self.rejections: dict[str, list[tuple[float, float]]] = {}

    # --- apps, sellers, sessions ----------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def listable_at(self, nick: str, at: float) -> float:
        """When the seller's searches can first list what became visible at ``at``: then, or
        when the rejection spell it fell in ends (and the one after, if it falls in that)."""
        for start, end in self.rejections.get(nick, ()):
            if start <= at < end:
                at = end
        return at

    def add_app(
        self,
        app_key: str,
        app_secret: str,
        calls_per_minute: int = 0,
        calls_per_day: int = 0,
        denied_methods: list[str] | tuple[str, ...] = (),
    ) -> App:
        app = App(
            str(app_key),
            str(app_secret),
            int(calls_per_minute or 0),
            int(calls_per_day or 0),
            tuple(str(m) for m in denied_methods or ()),
        )
        self.apps[app.app_key] = app
        return app

    def add_seller(
        self, nick: str, history_trades: int = 0, history_days: float = 30, tmall: bool = False
    ) -> tuple[Seller, bool]:
        """Return the seller ``nick``, creating it (with history) if new; and whether new."""
        seller = self.sellers.get(nick)
        if seller is not None:
            return seller, False
        user_id = 2_200_000_000 + zlib.crc32(nick.encode()) % 100_000_000
        seller = Seller(nick, user_id, f"{self.seed}:seller:{nick}", tmall)
        lifecycle.setup_seller(seller, random.Random(f"{self.seed}:stock:{nick}"), self.now())
        self.sellers[nick] = seller
        seller.listener = self.announce
        seller.stamp_early = self.faults.visible_early_seconds
        activity.simulate_history(
            self, seller, int(history_trades), float(history_days), self.now()
        )
        return seller, True

    def new_token(self, prefix: str) -> str:
        return prefix + "".join(self.token_rng.choices("0123456789abcdef", k=40))

    def issue_session(self, app_key: str, nick: str) -> Session:
        session = Session(
            self.new_token("6"), app_key, nick, self.now() + self.faults.session_ttl_seconds
        )
        self.sessions[session.key] = session
        return session

    def expire_sessions(self, nick: str) -> int:
        count = 0
        for session in self.sessions.values():
            if session.nick == nick:
                session.expires_at = 0
                count += 1
        return count

    def revoke(self, nick: str, app_key: str | None = None) -> dict:
        """The seller revokes the app's authorisation (all apps without ``app_key``): its
        sessions die, its TMC permit ends, and the app gets ``taobao_top_AuthCancel``."""
        seller = self.sellers[nick]
        apps = set()
        for session in self.sessions.values():
            if session.nick == nick and (app_key is None or session.app_key == app_key):
                session.expires_at = 0
                apps.add(session.app_key)
        for key in [k for k in self.refresh_tokens if self.refresh_tokens[k].nick == nick]:
            if app_key is None or self.refresh_tokens[key].app_key == app_key:
                del self.refresh_tokens[key]
        content = {"user_id": seller.user_id, "open_id": f"AAE{seller.user_id:x}"}
        messages = 0
        for app in sorted(apps):
            permit = self.tmc.permits.get((app, nick))
            group = permit.group if permit else tmc.DEFAULT_GROUP
            self.tmc.cancel(app, nick)
            messages += self.tmc.enqueue(
                self.faults, self.now(), app, group, seller, tmc.AUTH_CANCEL, content
            )
        return {"apps": sorted(apps), "messages": messages}

    def announce(self, seller: Seller, kind: str, topic, data: dict, previous) -> None:
        """Queue the JDP push of a live trade or refund change, and publish its TMC message
        (none for ``topic`` "")."""
        self.jdp.changed(self.faults, self.now(), seller, kind, data)
        if topic == "":
            return
        if kind == "trade":
            topic = topic or tmc.trade_topic(previous, data)
            content = tmc.trade_content(topic, data)
        else:
            topic = topic or tmc.REFUND_PREFIX + tmc.REFUND_STATUS_TOPICS[data["status"]]
            content = tmc.refund_content(data)
        self.tmc.publish(self.faults, self.now(), seller, topic, content)

    def draw_lag(self) -> int:
        """The visibility lag of the change being made now (``Faults.draw_lag``)."""
        return self.faults.draw_lag(self.lag_rng)

    def set_faults(self, values: dict) -> None:
        self.faults.update(values)
        for seller in self.sellers.values():
            seller.stamp_early = self.faults.visible_early_seconds
        if self.clock.skew_seconds != self.faults.skew_seconds:
            self.clock.skew_seconds = self.faults.skew_seconds
            self.clock_moved()

    def clock_moved(self) -> None:
        for seller in self.sellers.values():
            seller.generation += 1  # cached lists depend on "now"

    # --- snapshots ------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["lock"]
        state["bans"] = Bans()  # bans run on the real monotonic clock: not carried over
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()
        if "tmc" not in state:  # a snapshot from before TMC
            self.tmc = tmc.Tmc(self.seed)
        if "lag_rng" not in state:  # a snapshot from before lags were drawn per change
            self.lag_rng = random.Random(f"{self.seed}:lag")
        self.__dict__.setdefault("rejections", {})
        if "jdp" not in state:  # a snapshot from before JDP
            self.jdp = jdp.Jdp(self.seed)
        for seller in self.sellers.values():
            seller.listener = self.announce
        seller.stamp_early = self.faults.visible_early_seconds

    def save(self, path: str) -> None:
        """Write the whole world to ``path`` (atomically)."""
        with self.lock:
            for seller in self.sellers.values():
                seller.drop_caches()
            data = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> World:
        """Read a world written by :meth:`save` (a local file this sandbox wrote itself)."""
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 (trusted local snapshot)

    def stats(self) -> dict:
        per_method = {method: dict(apps) for method, apps in sorted(self.calls.items())}
        return {
            "calls": per_method,
            "calls_total": sum(sum(apps.values()) for apps in self.calls.values()),
            "errors_injected": dict(self.injected),
            "errors_returned": {str(code): n for code, n in sorted(self.errors.items())},
            "bans_issued": self.bans.issued,
            "tmc": self.tmc.stats(self.now()),
            "jdp": dict(self.jdp.counts),
        }
