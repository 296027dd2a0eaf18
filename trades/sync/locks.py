"""Run locks: one run per shop stream (and one reconcile per shop) for the whole run.

A run takes a session-level advisory lock keyed by its checkpoint row before it starts and
releases it when it ends. The lock lives on the run's database connection, not in a
transaction, so no transaction stays open across the run's HTTP calls between windows; a
worker that dies (SIGKILL, ``Q_TIMEOUT``) loses its connection and the lock with it. The
checkpoint row itself is locked only for the moment a window moves the cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

# First key of the two-key advisory lock: the lock's kind; the second is a checkpoint's pk.
RUN_LOCK = 0x4F53  # "OS"


@contextmanager
def run_lock(checkpoint_pk: int) -> Iterator[bool]:
    """Try to take the run lock of one checkpoint; yield whether it was taken."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK, checkpoint_pk])
        taken = cursor.fetchone()[0]
    try:
        yield taken
    finally:
        if taken:
            _unlock(checkpoint_pk)


def is_locked(checkpoint_pk: int) -> bool:
    """Whether some run holds the lock now (a glance: it may change right after).

    ``pg_locks`` lists the advisory locks of every database on the server: another database
    there (a staging copy, another test worker) may hold the same two keys."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objid = %s AND objsubid = 2 AND granted)",
            [RUN_LOCK, checkpoint_pk],
        )
        (held,) = cursor.fetchone()
        return bool(held)


def _unlock(checkpoint_pk: int) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK, checkpoint_pk])
    except DatabaseError:
        # the connection broke during the run: the lock went with it
        pass
