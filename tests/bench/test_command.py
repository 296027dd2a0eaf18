"""``manage.py bench``: one command whose parts take the flags of the commands they replaced."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from tools.management.commands.bench import Command, require_migrated, settings_kept

DOCS = Path(__file__).resolve().parents[2] / "docs"


def parse(*args: str) -> dict:
    return vars(Command().create_parser("manage.py", "bench").parse_args(args))


def test_no_part_is_the_report_with_its_flags():
    opts = parse("--quick", "--only", "naive", "--chaos-seconds", "6")
    assert opts["part"] is None and opts["quick"] and opts["only"] == "naive"
    assert opts["chaos_seconds"] == 6 and opts["json"] == "docs/benchmarks.json"


def test_a_part_of_the_report_runs_alone_under_its_name_or_alias():
    for name in ("naive", "chaos"):
        opts = parse(name, "--quick", "--chaos-seconds", "6")
        assert opts["only"] == "naive" and opts["quick"] and opts["chaos_seconds"] == 6
    assert parse("backfill", "--backfill-sizes", "100")["only"] == "backfill"


def test_each_part_reads_the_flags_of_the_command_it_replaced():
    assert parse("ratelimit", "--budget=30", "--json")["budget"] == 30
    assert parse("sync", "--backfill-trades", "50", "--runs", "2")["backfill_trades"] == 50
    assert parse("tmc", "--drop", "0.5")["drop"] == 0.5
    assert parse("api", "--trades", "10", "--skip-http")["skip_http"]
    assert parse("webhooks", "--events", "10")["events"] == 10
    assert parse("sandbox", "--spread", "3600")["spread"] == 3600


def test_the_sandbox_part_prints_its_figures(capsys):
    call_command("bench", "sandbox", "--seconds", "1", "--clients", "1", "--trades", "200")
    assert "list calls of 100 trades in 1 s from 1 client processes" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_the_logistics_part_prints_its_figures(capsys):
    call_command("bench", "logistics", "--trades", "4", "--days", "1", "--tick-minutes", "120")
    out = capsys.readouterr().out
    assert "trace calls per consigned trade per day" in out and "trace calls per parcel" in out
    assert "trace calls per consigned trade per day in transit" in out


def test_render_rewrites_both_pages_from_the_figures_unchanged(tmp_path):
    pages = ("benchmarks.md", "zh/benchmarks.md")
    for name in ("benchmarks.json", *pages):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(DOCS / name, tmp_path / name)
    call_command("bench", "--render", "--json", str(tmp_path / "benchmarks.json"))
    for name in pages:
        assert (tmp_path / name).read_text() == (DOCS / name).read_text(), name


@pytest.mark.django_db
def test_a_database_without_the_migrations_is_a_clear_error():
    name = f"bare_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    bare = connection.copy()
    bare.settings_dict["NAME"] = name
    try:
        with pytest.raises(CommandError, match=f"'{name}' has unapplied migrations: run"):
            require_migrated(bare)
        require_migrated(connection)  # the test database is migrated: no error
    finally:
        bare.close()
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}"')


def test_what_a_part_sets_to_measure_with_does_not_outlive_it():
    lag = settings.SYNC_LAG_SECONDS
    with settings_kept():
        settings.SYNC_LAG_SECONDS = lag + 1
        settings.BENCH_ONLY = True
    assert lag == settings.SYNC_LAG_SECONDS and not hasattr(settings, "BENCH_ONLY")
