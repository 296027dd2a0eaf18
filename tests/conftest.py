"""Shared fixtures: three actors (alice owns tenant A, bob views it, charlie owns tenant B)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import pytest
import requests
from django.db import connection, connections, transaction
from django.test import TransactionTestCase
from pytest_django.plugin import blocking_manager_key

from ordersync.sandbox.server import start_sandbox
from ordersync.taobao.stats import call_stats
from ordersync.taobao.store import close_state_connection
from shops.actions import ensure_checkpoints
from shops.models import Membership, Shop, Tenant, TopApp
from tests.support import actors, databases, lanes


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # A million PBKDF2 rounds per password made each console fixture take seconds. In the
    # tests' own processes only: the servers and commands they start keep Django's hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # One test handed to a worker at a time (and one waiting), in the order below: ``--dist
    # load`` otherwise sends each worker a first run of a quarter of its share, so one worker
    # got every long test of the fast set (and both demos of the second stage) and ran them
    # one after another while the others had finished.
    config.option.maxschedchunk = 1


def pytest_sessionstart(session: pytest.Session) -> None:
    """The controller of parallel workers builds the migrated template (and starts the
    embedded server) while the workers start and collect: in a fresh clone every worker's
    first test otherwise waited for the whole build (12 s in CI) after its collection, one
    core idle. A worker that asks first builds it itself; the others wait for it as before."""
    config = session.config
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    if config.getoption("collectonly"):
        return
    threading.Thread(target=_template_ahead, args=(config,), daemon=True).start()


def _template_ahead(config: pytest.Config) -> None:
    with config.stash[blocking_manager_key].unblock():
        try:
            databases.ensure_template()
        finally:
            connection.close()


# The fast set's longest tests (ten seconds or more each in ``--durations`` on two cores),
# by node id up to its parameters: handed out first, so that no worker starts one of them
# when the others are about to end.
LONGEST = frozenset(
    {
        "tests/api/test_exports.py::test_every_trade_once_with_its_lines_and_the_end_line",
        "tests/api/test_exports.py::test_memory_does_not_grow_with_rows",
        "tests/api/test_exports_parquet.py::test_memory_holds_one_row_group",
        "tests/bench/test_bench.py::test_webhooks_part_delivers_every_event",
        "tests/bench/test_export_part.py::test_the_export_part_prints_its_figures_and_cleans_up",
        "tests/bench/test_parts.py::test_backfill_part_prints_its_source_and_write_limits",
        "tests/bench/test_parts.py::test_tmc_part_keeps_both_shops_equal_to_the_oracle",
        "tests/console/test_fuzz_admin.py::test_no_changelist_query_is_a_500",
        "tests/foundation/test_security_settings.py::"
        "test_check_deploy_is_clean_with_the_documented_production_values",
        "tests/foundation/test_settings.py::test_a_bad_value_of_any_variable_is_one_clear_message",
        "tests/foundation/test_settings.py::test_production_settings_start_when_complete",
        "tests/foundation/test_translations.py::"
        "test_makemessages_finds_nothing_untranslated_in_zh_hans",
        "tests/items/test_sync.py::"
        "test_items_and_stock_match_the_oracle_after_sales_restocks_and_faults",
        "tests/jdp/test_onboarding.py::test_enrolled_without_history_the_backfill_runs",
        "tests/logistics/test_e2e.py::test_stalls_are_alerted_once_and_cleared_when_parcels_move",
        "tests/replenish/test_end_to_end.py::test_a_backfilled_shop_gets_a_suggestion_per_sku",
        "tests/replenish/test_forecast.py::"
        "test_ours_beats_the_seven_day_average_on_the_sandbox_history",
        "tests/replenish/test_sales.py::test_sales_per_sku_per_day_follow_the_write_path",
        "tests/sandbox/test_items.py::test_the_history_has_a_weekday_shape",
        "tests/sync/test_bodies.py::"
        "test_every_new_fault_at_once_loses_nothing_and_keeps_nothing_stale",
        "tests/sync/test_concurrency.py::"
        "test_a_run_holds_its_stream_between_windows_so_runs_never_overlap",
        "tests/sync/test_dispatch.py::test_the_migration_turns_per_shop_schedules_into_due_times",
        "tests/sync/test_engine.py::test_a_double_11_burst_is_synced_whole",
        "tests/sync/test_lag.py::"
        "test_a_worker_killed_while_reading_a_narrowest_window_whole_leaves_it_to_parts",
        "tests/sync/test_poison.py::"
        "test_a_malformed_refund_is_set_aside_and_repaired_by_the_reconcile",
        "tests/sync/test_refunds.py::"
        "test_live_refunds_with_lag_and_drift_lose_nothing_in_either_list_order",
        "tests/webhooks/test_verify_snippets.py::"
        "test_the_snippet_accepts_a_real_delivery_and_refuses_forgeries",
    }
)


# The second stage's tests that may run side by side and take twenty seconds or more
# (``--durations`` of CI's clean-clone run, on two cores), longest first: the two workers
# start the demos as soon as the tests marked ``alone`` are done, then each takes the
# longest left as it frees up, so that they end together (in CI's order by folder the
# scheduler smoke and the webhook worker's kill came near the end: one worker ended 23 s
# after the other; longest first, 2 s in a replay of those durations).
E2E_LONGEST = (
    "tests/e2e/test_demo.py::"
    "test_demo_backfills_every_shop_and_sigterm_saves_the_world_like_ctrl_c",  # 102 s
    "tests/bench/test_bench.py::test_bench_double11_part_catches_up_after_the_burst",  # 69 s
    "tests/e2e/test_demo.py::test_the_quick_start_ends_with_the_printed_curl_returning_trades",
    "tests/bench/test_parts.py::"
    "test_scheduler_part_runs_shops_through_the_dispatcher_and_one_qcluster",  # 44 s
    "tests/sync/test_chaos.py::test_incremental_under_chaos_keeps_every_change_current_while_"
    "the_faults_are_on[modified_desc]",  # 39 s
    "tests/sync/test_chaos.py::test_incremental_under_chaos_keeps_every_change_current_while_"
    "the_faults_are_on[created_asc]",
    "tests/bench/test_bench.py::test_bench_naive_part_writes_its_figures",  # 36 s
    "tests/jdp/test_chaos.py::test_consumer_ends_with_the_oracle_content",
    "tests/webhooks/test_workers.py::test_a_worker_killed_mid_delivery_loses_nothing",
    "tests/e2e/test_admin_browser.py::test_the_console_answers_support_operators_and_owners",
    "tests/e2e/test_webhooks_chaos.py::test_every_event_of_a_chaos_sync_arrives_signed",  # 26 s
)


def _e2e_rank(nodeid: str) -> int:
    return E2E_LONGEST.index(nodeid) if nodeid in E2E_LONGEST else len(E2E_LONGEST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked ``alone`` first, one after another while the other worker waits (an
    ``alone`` test that comes later waits for the test beside it to end, the demo's minutes
    with two idle workers' worth of time); then the second stage's longest (``E2E_LONGEST``),
    then the end-to-end folder, whose tests take minutes each: a worker that starts one last
    ends the whole stage that much later (``--dist load`` hands the first tests out in turns,
    the rest as workers free up); then the fast set's longest tests, for the same reason."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("alone") is None,
            _e2e_rank(item.nodeid),
            not item.nodeid.startswith("tests/e2e/"),
            item.nodeid.split("[")[0] not in LONGEST,
        )
    )


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core for the fast set, whose tests mostly wait (on a
    sandbox, a child process, a lock): on two cores four workers ran it in 2 min 20 s. Three
    workers for the second stage (``-m e2e``), whose tests mostly wait on child processes
    and the wall clock (two workers kept the load average near 1.2 through CI's run); the
    ones marked ``alone`` run with nothing beside them (below)."""
    if config.getoption("markexpr") == "e2e":
        return 3
    return 2 * (os.cpu_count() or 1)


@pytest.fixture(autouse=True)
def _alone_or_side_by_side(request: pytest.FixtureRequest, tmp_path_factory):
    """Between parallel workers, a test marked ``alone`` runs with no other test beside it:
    its proof checks every change is current on the wall clock while the faults are on, and
    a cluster or the demo beside it on two cores made it late (20 changes behind in a 6 s
    chaos run). Every other end-to-end test runs beside one more."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2 or request.node.get_closest_marker("e2e") is None:
        yield
        return
    alone = request.node.get_closest_marker("alone") is not None
    with lanes.taken(tmp_path_factory.getbasetemp().parent, alone):
        yield


# What migrate writes once and no test changes: kept across transactional tests.
MIGRATED_DATA = frozenset({"django_content_type", "auth_permission"})
# Rows the migrations write that tests may change (the schedules): put back after each
# transactional test from a copy taken when the worker's database was made, so a test that
# reads them does not depend on which tests ran before it on its worker.
RESTORED = {"django_q_schedule": "tests_migrated_schedule"}


def _delete_test_data(self: TransactionTestCase) -> None:
    """End a transactional test by deleting every row it could have written.

    Django's own teardown truncates every table and then rebuilds the content types and
    permissions that migrate made, about a second per test here; deleting the rows of the
    other tables in one transaction (foreign keys checked at its end) takes milliseconds."""
    for alias in self._databases_names(include_mirrors=False):
        conn = connections[alias]
        tables = conn.introspection.django_table_names(only_existing=True, include_views=False)
        with transaction.atomic(using=alias), conn.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            # the audit log refuses DELETE but to a maintenance session (migration 0011)
            cursor.execute("SET LOCAL ordersync.audit_maintenance = 'on'")
            for table in sorted(set(tables) - MIGRATED_DATA):
                cursor.execute(f"DELETE FROM {conn.ops.quote_name(table)}")
            for table, copy in RESTORED.items():
                cursor.execute(f"INSERT INTO {table} SELECT * FROM {copy}")


TransactionTestCase._fixture_teardown = _delete_test_data


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_modify_db_settings, django_db_blocker):
    """This worker's test database (``test_ordersync_gw0``, …; ``test_ordersync`` in one
    process), a copy of the migrated template (tests/support/databases.py), dropped at the
    end with whatever connections a server thread left open."""
    name = connection.creation._get_test_db_name()
    old_name = connection.settings_dict["NAME"]
    with django_db_blocker.unblock():
        databases.create_from_template(name)
        databases.use_database(name)
        with connection.cursor() as cursor:
            for table, copy in RESTORED.items():
                cursor.execute(f"CREATE TABLE {copy} AS SELECT * FROM {table}")
    yield
    with django_db_blocker.unblock():
        databases.use_database(old_name)
        databases.drop(name)


@pytest.fixture(autouse=True)
def _no_call_counts_across_tests():
    """Counts a test did not flush belong to its own (rolled back or dropped) database."""
    yield
    call_stats.discard()


@pytest.fixture
def tenant_a(db) -> Tenant:
    return actors.tenant("a")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return actors.tenant("b")


@pytest.fixture
def alice(tenant_a):
    """Owner of tenant A."""
    return actors.member("alice", tenant_a, Membership.Role.OWNER)


@pytest.fixture
def bob(tenant_a):
    """Read-only member of tenant A."""
    return actors.member("bob", tenant_a, Membership.Role.VIEWER)


@pytest.fixture
def charlie(tenant_b):
    """Owner of tenant B: an outsider to tenant A."""
    return actors.member("charlie", tenant_b, Membership.Role.OWNER)


@pytest.fixture
def top_app(db) -> TopApp:
    return actors.top_app()


@pytest.fixture
def shop_a(tenant_a, top_app) -> Shop:
    return actors.shop(tenant_a, top_app, "a", 1001)


@pytest.fixture
def shop_b(tenant_b, top_app) -> Shop:
    return actors.shop(tenant_b, top_app, "b", 2002)


@dataclass
class Gateway:
    """A running sandbox and its control API."""

    sandbox: object

    @property
    def url(self) -> str:
        return self.sandbox.url

    def control(self, path: str, body: dict | None = None) -> dict:
        url = f"{self.url}/_sandbox/{path}"
        response = (
            requests.post(url, json=body, timeout=30)
            if body is not None
            else (requests.get(url, timeout=30))
        )
        response.raise_for_status()
        return response.json()

    def faults(self, **rates) -> dict:
        return self.control("faults", rates)

    def oracle_trades(self, nick: str) -> dict[int, dict]:
        return {t["tid"]: t for t in self.control(f"oracle/trades?nick={nick}")["trades"]}

    def oracle_refunds(self, nick: str) -> dict[int, dict]:
        refunds = self.control(f"oracle/refunds?nick={nick}")["refunds"]
        return {int(r["refund_id"]): r for r in refunds}


@pytest.fixture
def gateway():
    sandbox = start_sandbox(port=0, seed=7)
    yield Gateway(sandbox)
    sandbox.stop()
    close_state_connection()


@pytest.fixture
def sandbox_app(gateway, db) -> TopApp:
    gateway.control("apps", {"app_key": "app-1", "app_secret": "s3cret", "calls_per_minute": 0})
    return TopApp.objects.create(
        name="sandbox",
        app_key="app-1",
        app_secret="s3cret",
        gateway_url=f"{gateway.url}/router/rest",
        calls_per_minute=100000,
    )


@pytest.fixture
def make_shop(gateway, sandbox_app, tenant_a):
    def make(nick: str, history_trades: int = 0, history_days: float = 10) -> Shop:
        seller = gateway.control(
            "sellers",
            {
                "app_key": sandbox_app.app_key,
                "nick": nick,
                "history_trades": history_trades,
                "history_days": history_days,
            },
        )
        shop = Shop.objects.create(
            tenant=tenant_a,
            app=sandbox_app,
            seller_nick=nick,
            seller_id=seller["user_id"],
            session_key=seller["session"],
        )
        ensure_checkpoints(shop)
        return shop

    return make
