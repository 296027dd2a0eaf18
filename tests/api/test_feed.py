"""The change feed: one INSERT in the writer's transaction, gapless and in commit order."""

from __future__ import annotations

import base64
import random
import threading
import time
from datetime import datetime
from itertools import groupby

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.support.records import wire_trade as trade
from trades.feed.changes import (
    Change,
    InvalidCursor,
    decode_cursor,
    read_changes,
    read_changes_page,
    record_changes,
)
from trades.feed.models import ChangeEvent, FeedCommit
from trades.sync.write import write_trades

NOW = datetime(2026, 11, 11, 0, 0, tzinfo=timezone.get_current_timezone())


def change(object_id: int, status: str = "WAIT_BUYER_PAY", previous: str | None = None) -> Change:
    return Change("trade", object_id, 10_000 + object_id, status, previous, NOW)


def read_all(tenant, after=None, limit=1000) -> tuple[list[ChangeEvent], str]:
    events, cursor = [], after
    while True:
        page, cursor = read_changes(tenant, cursor, limit)
        events += page
        if len(page) < limit:
            return events, cursor


@pytest.mark.django_db(transaction=True)
def test_record_changes_needs_the_writers_transaction(shop_a):
    with pytest.raises(RuntimeError):
        record_changes(shop_a, [change(1)])


@pytest.mark.django_db
def test_record_changes_is_one_insert(shop_a):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        record_changes(shop_a, [change(n) for n in range(50)])
    inserts = [q for q in queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert ChangeEvent.objects.filter(tenant=shop_a.tenant).count() == 50


@pytest.mark.django_db(transaction=True)
def test_read_changes_pages_in_order_and_resumes(shop_a, shop_b):
    for n in range(5):
        with transaction.atomic():
            record_changes(shop_a, [change(n * 2), change(n * 2 + 1, "TRADE_CLOSED", "X")])
    with transaction.atomic():
        record_changes(shop_b, [change(99)])

    page, cursor = read_changes(shop_a.tenant, None, 4)
    assert [e.object_id for e in page] == [0, 1, 2, 3]
    rest, end = read_all(shop_a.tenant, cursor, 3)
    assert [e.object_id for e in rest] == [4, 5, 6, 7, 8, 9]
    assert rest[1].previous_status == "X" and rest[0].previous_status is None
    # at the end the cursor stays put, and reading again finds nothing new
    assert read_changes(shop_a.tenant, end, 10) == ([], end)
    assert [e.object_id for e in read_all(shop_b.tenant)[0]] == [99]


def test_a_cursor_from_elsewhere_is_refused():
    for bad in ["nope", "MTox", "!!", "Mzo1OjU", "Mjo1Oi01"]:
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)


def _in_thread(target, *args) -> threading.Thread:
    def run():
        try:
            target(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_change_that_commits_late_is_not_skipped(shop_a):
    """T1 inserts first (lower id and txid) and commits after T2: the reader gets T1 later."""
    inserted, release = threading.Event(), threading.Event()

    def slow_writer():
        with transaction.atomic():
            record_changes(shop_a, [change(1)])
            inserted.set()
            assert release.wait(10)

    slow = _in_thread(slow_writer)
    assert inserted.wait(10)
    with transaction.atomic():
        record_changes(shop_a, [change(2)])

    # T2 is committed, T1 is not: T2 is readable at once, and its cursor cannot pass T1
    page, cursor = read_changes(shop_a.tenant, None, 10)
    assert [e.object_id for e in page] == [2]

    release.set()
    slow.join(10)
    page, cursor = read_changes(shop_a.tenant, cursor, 10)
    assert [e.object_id for e in page] == [1]
    assert read_changes(shop_a.tenant, cursor, 10) == ([], cursor)


@pytest.mark.django_db(transaction=True)
def test_a_shop_reader_misses_no_change_committed_while_it_reads(shop_a, shop_b):
    """After every statement of a read filtered by shop, another connection commits one more
    change of that shop and one of another: read on from each cursor, the reader gets every
    one of the shop's, once (a cursor moved past the other shops' changes must not pass one
    of its own committed between two statements)."""
    committed: list[int] = []

    def commit_one() -> None:
        n = len(committed) + 1

        def write() -> None:
            with transaction.atomic():
                record_changes(shop_b, [change(1000 + n)])
            with transaction.atomic():
                record_changes(shop_a, [change(n)])
            connection.close()

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(10)
        committed.append(n)

    def commit_after(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if len(committed) < 30:
            commit_one()
        return result

    seen, cursor, more = [], None, True
    with connection.execute_wrapper(commit_after):
        for _ in range(10):
            page, cursor, more = read_changes_page(shop_a.tenant, cursor, 2, shop_a.pk)
            seen += [e.object_id for e in page]
    while more or len(seen) < len(committed):  # the writes have stopped: read to the end
        page, cursor, more = read_changes_page(shop_a.tenant, cursor, 2, shop_a.pk)
        seen += [e.object_id for e in page]
        assert page or more or len(seen) == len(committed), (seen, committed)
    assert seen == committed


@pytest.mark.django_db(transaction=True)
def test_two_writers_of_one_trade_are_read_in_commit_order(shop_a):
    """The older writer (smaller transaction id) commits the newer version last.

    A feed in transaction-id order would hand out the newer version first and leave a reader
    that applies the feed in order on the older one.
    """
    started, release = threading.Event(), threading.Event()

    def long_writer():  # e.g. a sync window: takes its transaction id early, writes the trade late
        with transaction.atomic():
            write_trades(
                shop_a, [trade(status="WAIT_BUYER_PAY", modified="2026-11-11 00:00:01", tid=1)]
            )
            started.set()
            assert release.wait(10)
            write_trades(shop_a, [trade(7, "TRADE_FINISHED", "2026-11-11 00:09:00")])

    writer = _in_thread(long_writer)
    assert started.wait(10)
    write_trades(shop_a, [trade(7, "WAIT_SELLER_SEND_GOODS", "2026-11-11 00:05:00")])
    release.set()
    writer.join(10)

    events, _ = read_all(shop_a.tenant)
    of_seven = [e.status for e in events if e.key == 7]
    assert of_seven == ["WAIT_SELLER_SEND_GOODS", "TRADE_FINISHED"]
    # the long writer really had the smaller transaction id
    first, second = (e.txid for e in events if e.key == 7)
    assert first > second


@pytest.mark.django_db(transaction=True)
def test_a_cursor_of_the_transaction_id_feed_resumes_where_it_stood(shop_a):
    for n in range(3):
        with transaction.atomic():
            record_changes(shop_a, [change(n)])
    first = ChangeEvent.objects.order_by("id").first()
    old = base64.urlsafe_b64encode(f"1:{first.txid}:{first.pk}".encode()).decode().rstrip("=")
    page, cursor = read_changes(shop_a.tenant, old, 10)
    assert [e.object_id for e in page] == [1, 2]
    assert decode_cursor(cursor)[0] == "2"
    with pytest.raises(InvalidCursor):
        read_changes(shop_a.tenant, base64.urlsafe_b64encode(b"1:999999999:1").decode(), 10)


@pytest.mark.django_db(transaction=True)
def test_one_position_per_transaction_and_none_for_a_rollback(shop_a, shop_b):
    with transaction.atomic():
        record_changes(shop_a, [change(1), change(2)])
        record_changes(shop_a, [change(3)])
    with pytest.raises(RuntimeError, match="roll back"), transaction.atomic():
        record_changes(shop_b, [change(4)])
        raise RuntimeError("roll back")
    assert list(FeedCommit.objects.values_list("tenant_id", flat=True)) == [shop_a.tenant_id]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_reader_gets_every_committed_change_once_in_order(shop_a):
    writers, transactions_each = 4, 15
    committed: set[int] = set()
    commits: list[tuple[float, int]] = []  # (when the commit returned, txid)
    rolled_back: set[int] = set()
    lock = threading.Lock()
    done = threading.Event()

    class Rollback(Exception):
        pass

    def write(worker: int) -> None:
        rng = random.Random(worker)
        for n in range(transactions_each):
            ids = [worker * 10_000 + n * 10 + k for k in range(rng.randint(1, 3))]
            fail = rng.random() < 0.2
            try:
                with transaction.atomic():
                    # varied lengths: some take their txid late and commit fast, others take it
                    # early and commit slowly, so commit order differs from txid and id order
                    time.sleep(rng.uniform(0, 0.02))
                    record_changes(shop_a, [change(i) for i in ids])
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_current_xact_id()::text")
                        txid = int(cursor.fetchone()[0])
                    time.sleep(rng.uniform(0, 0.05))
                    if fail:
                        raise Rollback
            except Rollback:
                with lock:
                    rolled_back.update(ids)
            else:
                with lock:
                    committed.update(ids)
                    commits.append((time.monotonic(), txid))

    seen: list[ChangeEvent] = []
    positions: list[tuple[int, int]] = []

    def read() -> None:
        cursor = None
        while True:
            finished = done.is_set()  # read after writers ended must drain everything
            page, cursor = read_changes(shop_a.tenant, cursor, 7)
            seen.extend(page)
            positions.append(decode_cursor(cursor)[1:])
            if finished and not page:
                return
            time.sleep(0.003)

    threads = [_in_thread(write, w) for w in range(writers)]
    reader = _in_thread(read)
    for thread in threads:
        thread.join(60)
    done.set()
    reader.join(60)
    assert not reader.is_alive()

    got = [e.object_id for e in seen]
    assert len(got) == len(set(got)), "a change was handed out twice"
    assert set(got) == committed, "the reader missed a committed change"
    assert not set(got) & rolled_back
    assert rolled_back and len(committed) > 50
    order = [(e.position, e.pk) for e in seen]
    assert order == sorted(order) and positions == sorted(positions)
    # a transaction's changes are read together
    txids_in_feed_order = [txid for txid, _ in groupby(e.txid for e in seen)]
    assert len(txids_in_feed_order) == len(set(txids_in_feed_order))
    assert set(txids_in_feed_order) == {txid for _, txid in commits}
    # the writers really did commit out of txid order, or this test would prove nothing
    assert txids_in_feed_order != sorted(txids_in_feed_order)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_id_cursor_never_skips_a_later_id_that_committed_first(shop_a):
    """A cursor the old feed handed out after a transaction names everything below its id as
    read; a transaction with a larger id that committed earlier has not been read yet."""
    started, release = threading.Event(), threading.Event()

    def early_id_late_commit():
        with transaction.atomic():
            record_changes(shop_a, [change(1)])
            started.set()
            assert release.wait(10)

    writer = _in_thread(early_id_late_commit)
    assert started.wait(10)
    with transaction.atomic():
        record_changes(shop_a, [change(2)])  # larger id, committed first
    release.set()
    writer.join(10)
    early = ChangeEvent.objects.get(object_id=1)
    old = base64.urlsafe_b64encode(f"1:{early.txid}:{early.pk}".encode()).decode().rstrip("=")

    events, _ = read_all(shop_a.tenant, old)
    assert 2 in [e.object_id for e in events]  # handed out, not skipped
