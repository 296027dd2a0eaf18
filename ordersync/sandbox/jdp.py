"""Jushita data push (聚石塔 JDP): the platform writes enrolled sellers' trades and refunds
into the ISV's own RDS (MySQL), tables ``jdp_tb_trade`` and ``jdp_tb_refund``, and a Tmall
seller's refunds into ``jdp_tm_refund``.

Reference: docs/platform.md §8 (management APIs, table columns, what ``jdp_response`` holds).
The platform documents neither latency nor the order of ``jdp_modified``, and its notices
speak of push throttling in peaks; so this pusher takes the harsher reading of each:

- every change is pushed after a delay of its own (``jdp_delay_seconds``, up to
  ``jdp_delay_max_seconds`` for a share ``jdp_delay_tail_rate``), and what is pushed is the
  record as it is *then*: a second change pushed first overwrites the row, and the states
  in between are never seen (rows are updated in place, one per tid);
- ``jdp_modified`` is the push's second, so many rows share one second; a share
  ``jdp_reorder_rate`` of the rows are stamped up to ``jdp_reorder_seconds`` in the past,
  i.e. they appear behind rows a reader already passed;
- at most ``jdp_push_per_second`` rows are pushed per second (0: no cap); the rest wait;
- a seller whose session for the app died gets status 2 and nothing more is pushed for it
  until it is enrolled again (what changed meanwhile is not pushed later: polling must find
  it). Deleting (``user.delete``) sets status 3 and stops the push too;
- a Tmall seller's refunds (a seller created with ``"tmall": true``) go to ``jdp_tm_refund``
  only, never to ``jdp_tb_refund``: a reader of the Taobao table alone never sees them. The
  platform documents the table's columns (``jdp_tb_refund``'s plus ``refund_phase``) but not
  its ``jdp_response``: the sandbox writes ``taobao.refund.get``'s answer there (the
  ``refund_phase`` column copies the refund's).

The rows are written by :class:`Pusher` (a thread of the sandbox) through PyMySQL, outside
the world's lock. The sandbox imports nothing of the project's apps.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from ordersync.sandbox.clock import fmt

PAUSED, NORMAL, SESSION_INVALID, DELETED = 0, 1, 2, 3
MAX_HISTORY_DAYS = 90
TRADE, REFUND = "trade", "refund"

TRADE_TABLE = """
CREATE TABLE IF NOT EXISTS jdp_tb_trade (
  tid bigint NOT NULL,
  status varchar(64) NOT NULL,
  type varchar(64) NOT NULL,
  seller_nick varchar(32) NOT NULL,
  buyer_nick varchar(32) NOT NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  jdp_hashcode varchar(128) NOT NULL,
  jdp_response mediumtext NOT NULL,
  jdp_created datetime NOT NULL,
  jdp_modified datetime NOT NULL,
  PRIMARY KEY (tid),
  KEY ind_jdp_tb_trade_seller_nick_jdp_modified (seller_nick, jdp_modified),
  KEY ind_jdp_tb_trade_jdp_modified (jdp_modified),
  KEY ind_jdp_tb_trade_seller_nick_modified (seller_nick, modified),
  KEY ind_jdp_tb_trade_modified (modified)
) DEFAULT CHARSET=utf8mb4
"""


def _refund_table(name: str, extra: str = "") -> str:
    """The DDL of a refund table: ``jdp_tb_refund``, or Tmall's with ``refund_phase``."""
    return f"""
CREATE TABLE IF NOT EXISTS {name} (
  refund_id bigint NOT NULL,
  seller_nick varchar(32) NOT NULL,
  buyer_nick varchar(32) NOT NULL,
  status varchar(64) NOT NULL,
  created datetime NOT NULL,
  tid bigint NOT NULL,
  oid bigint NOT NULL,
  modified datetime NOT NULL,{extra}
  jdp_hashcode varchar(128) NOT NULL,
  jdp_response mediumtext NOT NULL,
  jdp_created datetime NOT NULL,
  jdp_modified datetime NOT NULL,
  PRIMARY KEY (refund_id),
  KEY ind_{name}_seller_nick_jdp_modified (seller_nick, jdp_modified),
  KEY ind_{name}_jdp_modified (jdp_modified)
) DEFAULT CHARSET=utf8mb4
"""


REFUND_TABLE = _refund_table("jdp_tb_refund")
TM_REFUND_TABLE = _refund_table("jdp_tm_refund", "\n  refund_phase varchar(32) NOT NULL,")
TRADE_COLUMNS = ("tid", "status", "type", "seller_nick", "buyer_nick", "created", "modified")
REFUND_COLUMNS = ("refund_id", "seller_nick", "buyer_nick", "status", "created", "tid", "oid")
REFUND_COLUMNS += ("modified",)


@dataclass
class User:
    """One seller enrolled by one app, as ``taobao.jushita.jdp.users.get`` shows it."""

    app_key: str
    nick: str
    user_id: int
    rds_name: str
    status: int
    created: float
    modified: float

    def render(self) -> dict:
        return {
            "user_id": self.user_id,
            "user_nick": self.nick,
            "rds_name": self.rds_name,
            "status": self.status,
            "created": fmt(self.created),
            "modified": fmt(self.modified),
        }


@dataclass
class Row:
    """One row to write: its table, its business columns, and its push stamp."""

    table: str
    values: dict
    response: str
    jdp_modified: float


@dataclass
class Jdp:
    """Enrolled users by (app_key, nick), RDS URLs by name, and the changes waiting to be
    pushed: (app_key, nick, kind, key) → the platform time the push is due."""

    seed: int = 0
    users: dict[tuple[str, str], User] = field(default_factory=dict)
    rds: dict[str, str] = field(default_factory=dict)
    pending: dict[tuple, float] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    credit: float = 0.0  # rows the throttle still allows this second
    last_take: float = 0.0

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.seed}:jdp")

    # --- management ------------------------------------------------------------------------
    def add_user(self, world, app_key: str, seller, rds_name: str, history_days: int) -> User:
        """Enrol ``seller`` (again): status 1, and its last ``history_days`` queued now."""
        now = world.now()
        previous = self.users.get((app_key, seller.nick))
        created = previous.created if previous else now
        user = User(app_key, seller.nick, seller.user_id, rds_name, NORMAL, created, now)
        self.users[(app_key, seller.nick)] = user
        if history_days:
            self.queue_history(app_key, seller, now - history_days * 86400, now)
        return user

    def queue_history(self, app_key: str, seller, since: float, now: float) -> None:
        for trade in seller.trades.values():
            if trade.current.modified >= since:
                self.pending.setdefault((app_key, seller.nick, TRADE, trade.tid), now)
        for refund in seller.refunds.values():
            if refund.modified >= since:
                self.pending.setdefault((app_key, seller.nick, REFUND, refund.refund_id), now)

    def delete_user(self, app_key: str, nick: str, now: float) -> bool:
        user = self.users.get((app_key, nick))
        if user is None or user.status == DELETED:
            return False
        user.status, user.modified = DELETED, now
        return True

    def refresh_status(self, world) -> None:
        """Status 2 for every normal user whose sessions for the app all died."""
        now = world.now()
        live = {(s.app_key, s.nick) for s in world.sessions.values() if s.expires_at > now}
        for key, user in self.users.items():
            if user.status == NORMAL and key not in live:
                user.status, user.modified = SESSION_INVALID, now
                self.counts["session_invalid"] += 1

    def stats(self, world) -> dict:
        """What ``GET /_sandbox/jdp`` shows: users, RDS names, pending pushes, counters."""
        self.refresh_status(world)
        return {
            "users": [{"app_key": u.app_key, **u.render()} for u in self.users.values()],
            "rds": sorted(self.rds),  # names only: the URLs may hold passwords
            "pending": len(self.pending),
            **dict(self.counts),
        }

    # --- changes ---------------------------------------------------------------------------
    def changed(self, faults, now: float, seller, kind: str, data: dict) -> None:
        """Queue the push of a live change for every app that enrolled ``seller``."""
        key = data["tid"] if kind == TRADE else data["refund_id"]
        for (app_key, nick), user in self.users.items():
            if nick != seller.nick:
                continue
            if user.status != NORMAL:
                self.counts["dropped"] += 1  # never pushed: polling has to find it
                continue
            due = now + self.draw_delay(faults)
            slot = (app_key, nick, kind, key)
            # an earlier due push of the same record will carry this change too
            self.pending[slot] = min(self.pending.get(slot, due), due)

    def draw_delay(self, faults) -> float:
        delay = faults.jdp_delay_seconds * self.rng.random()
        if faults.jdp_delay_tail_rate and self.rng.random() < faults.jdp_delay_tail_rate:
            delay = faults.jdp_delay_max_seconds * self.rng.random()
        return delay

    def take(self, world, now: float) -> dict[str, list[Row]]:
        """The rows due by ``now`` (within the throttle), by RDS URL; called under the
        world's lock. Changes of a user that is no longer normal are dropped."""
        self.refresh_status(world)
        allowed = self._allowance(world.faults, now)
        due = sorted((at, slot) for slot, at in self.pending.items() if at <= now)
        out: dict[str, list[Row]] = {}
        for _, slot in due[:allowed]:
            del self.pending[slot]
            row = self._row(world, slot, now)
            if row is not None:
                out.setdefault(self.rds[self.users[slot[:2]].rds_name], []).append(row)
        if len(due) > allowed:  # the throttle held rows back
            self.counts["throttled_ticks"] += 1
            self.counts["backlog_max"] = max(self.counts["backlog_max"], len(due) - allowed)
        return out

    def _allowance(self, faults, now: float) -> int:
        if not faults.jdp_push_per_second:
            return 1 << 30
        elapsed = max(0.0, now - self.last_take) if self.last_take else 1.0
        self.last_take = now
        cap = float(faults.jdp_push_per_second)
        self.credit = min(cap, self.credit + elapsed * cap)
        allowed = int(self.credit)
        self.credit -= allowed
        return allowed

    def _row(self, world, slot: tuple, now: float) -> Row | None:
        app_key, nick, kind, key = slot
        user = self.users.get((app_key, nick))
        if user is None or user.status != NORMAL or user.rds_name not in self.rds:
            self.counts["dropped"] += 1
            return None
        seller = world.sellers[nick]
        stamp = float(int(now))
        if world.faults.jdp_reorder_rate and self.rng.random() < world.faults.jdp_reorder_rate:
            stamp -= self.rng.randint(1, max(1, int(world.faults.jdp_reorder_seconds)))
            self.counts["reordered"] += 1
        self.counts["pushed"] += 1
        if kind == TRADE:
            return trade_row(seller.trades[key].current.data, stamp)
        return refund_row(seller.refunds[key].data, stamp, getattr(seller, "tmall", False))


def trade_row(data: dict, stamp: float) -> Row:
    """The ``jdp_tb_trade`` row of a trade: ``trade.fullinfo.get``'s default JSON answer."""
    trade = {**data, "orders": {"order": data.get("orders", [])}}
    response = _json({"trade_fullinfo_get_response": {"trade": trade}})
    values = {name: data.get(name) or "" for name in TRADE_COLUMNS}
    return Row("jdp_tb_trade", values, response, stamp)


def refund_row(data: dict, stamp: float, tmall: bool = False) -> Row:
    """The ``jdp_tb_refund`` row of a refund (``jdp_tm_refund`` of a Tmall seller's, with
    its ``refund_phase``): ``taobao.refund.get``'s answer."""
    response = _json({"refund_get_response": {"refund": data}})
    values = {name: data.get(name) or "" for name in REFUND_COLUMNS}
    if not tmall:
        return Row("jdp_tb_refund", values, response, stamp)
    values["refund_phase"] = data.get("refund_phase") or "onsale"
    return Row("jdp_tm_refund", values, response, stamp)


def _json(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- writing the rows -------------------------------------------------------------------------
def connect(url: str):
    """A PyMySQL connection to ``mysql://user:password@host:port/database``."""
    import pymysql  # only the pusher needs the driver

    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        charset="utf8mb4",
        autocommit=True,
    )


def create_tables(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute(TRADE_TABLE)
        cursor.execute(REFUND_TABLE)
        cursor.execute(TM_REFUND_TABLE)


def write_rows(connection, rows: list[Row]) -> None:
    """Insert or overwrite each row in place, one transaction per call (a push of many rows
    is not held up by a commit each); ``jdp_created`` stays as first written."""
    connection.begin()
    with connection.cursor() as cursor:
        for row in rows:
            names = [*row.values, "jdp_hashcode", "jdp_response", "jdp_created", "jdp_modified"]
            stamp = fmt(row.jdp_modified)
            values = [*row.values.values(), _hashcode(row.response), row.response, stamp, stamp]
            updates = ", ".join(f"{n} = VALUES({n})" for n in names if n != "jdp_created")
            cursor.execute(
                f"INSERT INTO {row.table} ({', '.join(names)})"
                f" VALUES ({', '.join(['%s'] * len(names))}) ON DUPLICATE KEY UPDATE {updates}",
                values,
            )
    connection.commit()


def _hashcode(text: str) -> str:
    """A check value shaped like the platform's (a signed 32-bit number)."""
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big", signed=True)
    return str(value)


class Pusher(threading.Thread):
    """Background thread: takes due rows from the world and writes them to their RDS."""

    interval = 0.1

    def __init__(self, world) -> None:
        super().__init__(name="sandbox-jdp", daemon=True)
        self.world = world
        self.stopped = threading.Event()
        self.connections: dict[str, object] = {}
        self.unwritten: dict[str, list[Row]] = {}  # an RDS that failed: written again next

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.push_once()

    def push_once(self) -> int:
        """Write the rows due now; return how many were written."""
        with self.world.lock:
            batches = self.world.jdp.take(self.world, self.world.now())
        for url, rows in batches.items():
            self.unwritten.setdefault(url, []).extend(rows)
        written = 0
        for url in list(self.unwritten):
            try:
                write_rows(self._connection(url), self.unwritten[url])
            except Exception:  # the RDS is down or gone: try again on the next tick
                self.world.jdp.counts["write_errors"] += 1
                self.connections.pop(url, None)
                time.sleep(0.2)
                continue
            written += len(self.unwritten.pop(url))
        return written

    def _connection(self, url: str):
        connection = self.connections.get(url)
        if connection is None:
            connection = self.connections[url] = connect(url)
            create_tables(connection)
        return connection

    def stop(self) -> None:
        self.stopped.set()
