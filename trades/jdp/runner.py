"""The ``jdp_consume`` process and the scheduled pass: every live shop, one pass each.

Shops are taken one after the other; a shop whose pass fails (its RDS down, a write
error) records the failure on its checkpoint and the others go on. Connections to the
RDS are kept per URL across passes and dropped when they fail.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime
from functools import partial

import pymysql
from django.conf import settings
from django.db import close_old_connections

from ordersync.taobao.client import TopClient
from ordersync.taobao.errors import TopError
from shops.models import Shop, TopApp
from shops.top import client_for_shop
from trades.jdp import consumer, findings, rds
from trades.jdp.enrol import refresh_statuses
from trades.jdp.models import JdpShop

log = logging.getLogger(__name__)
STATUS_REFRESH_SECONDS = 300


class Connections:
    """One connection per RDS URL, opened on first use."""

    def __init__(self) -> None:
        self.open: dict[str, object] = {}
        self.seen = consumer.Seen()  # rows written by this process, across passes
        self.clients: dict[int, TopClient] = {}  # by app: their platform clocks

    def platform_now(self, shop: Shop) -> datetime | None:
        """Platform time through the shop's app clock (shared offset, ``taobao.time.get``
        every few minutes fleet-wide); None when it cannot be read now."""
        if shop.app_id not in self.clients:
            self.clients[shop.app_id] = client_for_shop(shop)
        try:
            return self.clients[shop.app_id].clock.now()
        except TopError:
            log.warning("platform time of shop %s could not be read", shop.pk, exc_info=True)
            return None

    def get(self, url: str):
        if url not in self.open:
            self.open[url] = rds.connect(url)
        return self.open[url]

    def drop(self, url: str) -> None:
        connection = self.open.pop(url, None)
        if connection is not None:
            with contextlib.suppress(pymysql.Error):  # broken already: why it is dropped
                connection.close()

    def close(self) -> None:
        for url in list(self.open):
            self.drop(url)


def live_shops(shop_ids: list[int] | None = None):
    states = JdpShop.objects.filter(
        status=JdpShop.Status.NORMAL, shop__status=Shop.Status.ACTIVE
    ).select_related("shop", "shop__tenant", "rds")
    if shop_ids:
        states = states.filter(shop_id__in=shop_ids)
    return states.order_by("shop_id")


def consume_once(connections: Connections, shop_ids: list[int] | None = None) -> int:
    """One pass over every live shop; return the rows read."""
    return sum(consume_shop(connections, state) for state in live_shops(shop_ids))


def consume_shop(connections: Connections, state: JdpShop) -> int:
    """One pass over every pushed table of one shop; then, when every table was read whole
    by this pass, what JDP had not delivered by the pass's start is swept (findings)."""
    started = connections.platform_now(state.shop)
    rows, whole = 0, True
    url = rds.url_of(state.rds)
    for table in consumer.TABLES:
        try:
            result = consumer.consume_table(
                state.shop, table, connections.get(url), connections.seen
            )
        except Exception as error:  # noqa: BLE001 (recorded; the other shops go on)
            log.exception("JDP pass of shop %s %s failed", state.shop_id, table.name)
            consumer.record_failure(state.shop, table, error)
            connections.drop(url)
            whole = False
            continue
        rows += result.rows
        whole = whole and result.locked
    if whole and started is not None:
        try:
            sweep(state.shop, connections.get(url), started)
        except pymysql.Error:  # the next whole pass sweeps again
            log.warning("JDP findings of shop %s not swept", state.shop_id, exc_info=True)
            connections.drop(url)
    return rows


def sweep(shop: Shop, connection, started: datetime) -> None:
    """Settle or miss the shop's findings past their deadline, looking each up in the RDS."""
    for entity in {table.kind for table in consumer.TABLES}:
        tables = [table for table in consumer.TABLES if table.kind == entity]
        findings.sweep(shop, entity, started, partial(_pushed, connection, shop, tables))


def _pushed(connection, shop: Shop, tables: list, keys: list[int]) -> dict:
    """What the RDS holds of ``keys`` in ``tables``: the newest of each key."""
    found: dict = {}
    for table in tables:
        for key, version in rds.pushed(
            connection, table.name, table.key, shop.seller_nick, keys
        ).items():
            found[key] = max(found.get(key, version), version)
    return found


def refresh_all_statuses() -> None:
    """Read the JDP status of every enrolled shop, app by app."""
    for app in TopApp.objects.filter(shops__jdp__isnull=False).distinct():
        try:
            refresh_statuses(app)
        except Exception:  # noqa: BLE001 (the next refresh tries again)
            log.exception("JDP status of app %s could not be read", app.app_key)


def run(stop: threading.Event, shop_ids: list[int] | None = None) -> None:
    """Consume until ``stop``: a pass, then a pause when it read nothing new."""
    connections = Connections()
    next_refresh = 0.0
    try:
        while not stop.is_set():
            close_old_connections()
            if time.monotonic() >= next_refresh:
                refresh_all_statuses()
                next_refresh = time.monotonic() + STATUS_REFRESH_SECONDS
            if not consume_once(connections, shop_ids):
                stop.wait(settings.JDP_IDLE_SECONDS)
    finally:
        connections.close()
