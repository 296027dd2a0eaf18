"""Counts of every TOP call, kept in PostgreSQL so ``/metrics`` sees all processes.

A listener on the instrumentation hook sums calls in memory and adds them to
``ApiCallStat`` rows every ``FLUSH_SECONDS`` (and at exit), on the client's own autocommit
connection, so a sync's transaction never waits for it.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import threading
import time
from collections import defaultdict
from typing import Any

from psycopg.types.json import Jsonb

from ordersync.taobao.instrument import CallRecord, add_listener

logger = logging.getLogger(__name__)

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)  # seconds; +Inf is the count
FLUSH_SECONDS = 5.0


class CallStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, str, int], list[Any]] = defaultdict(
            lambda: [0, 0.0, [0] * len(BUCKETS)]
        )
        self._flushed_at = time.monotonic()

    def __call__(self, record: CallRecord) -> None:
        key = (record.app_key, record.method, record.outcome, record.code or 0)
        with self._lock:
            series = self._pending[key]
            series[0] += 1
            series[1] += record.duration
            # cumulative buckets, as Prometheus histograms count them
            for index in range(bisect.bisect_left(BUCKETS, record.duration), len(BUCKETS)):
                series[2][index] += 1
            due = time.monotonic() - self._flushed_at >= FLUSH_SECONDS
        if due:
            self.flush()

    def discard(self) -> None:
        """Forget what is not flushed yet (tests: each starts with nothing pending)."""
        with self._lock:
            self._pending.clear()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = (
                self._pending,
                defaultdict(lambda: [0, 0.0, [0] * len(BUCKETS)]),
            )
            self._flushed_at = time.monotonic()
        if not pending:
            return
        from ordersync.taobao.models import ApiCallStat
        from ordersync.taobao.store import state_connection

        table = ApiCallStat._meta.db_table
        conn = state_connection()
        with conn.transaction():
            for (app_key, method, outcome, code), (calls, seconds, buckets) in sorted(
                pending.items()
            ):
                conn.execute(
                    f"""
                    INSERT INTO {table} (app_key, method, outcome, code, calls, duration_sum,
                                         buckets)
                    VALUES (%s, %s, %s, %s, %s, %s, %s)
                    ON CONFLICT (app_key, method, outcome, code) DO UPDATE SET
                        calls = {table}.calls + EXCLUDED.calls,
                        duration_sum = {table}.duration_sum + EXCLUDED.duration_sum,
                        buckets = (
                            SELECT jsonb_agg(COALESCE((o.v)::bigint, 0) + (n.v)::bigint
                                             ORDER BY n.i)
                            FROM jsonb_array_elements_text(EXCLUDED.buckets)
                                 WITH ORDINALITY AS n(v, i)
                            LEFT JOIN jsonb_array_elements_text({table}.buckets)
                                 WITH ORDINALITY AS o(v, i) ON o.i = n.i
                        )
                    """,
                    [app_key, method, outcome, code, calls, seconds, Jsonb(buckets)],
                )


call_stats = CallStats()


def install() -> None:
    """Start counting this process's calls (called once from the app's ``ready``)."""
    add_listener(call_stats)
    atexit.register(_flush_quietly)


def _flush_quietly() -> None:
    try:
        call_stats.flush()
    except Exception as exc:  # the database may already be gone at exit
        logger.warning("the last TOP call counts of this process were not saved: %s", exc)
