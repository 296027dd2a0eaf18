"""``manage.py bench export`` at a tiny size: it fills a tenant, streams each format through
the export's response, prints its figures and psql COPY's beside them, and removes its rows.
A correctness check of the benchmark, never a timed one."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from shops.models import Tenant
from trades.models import Trade, TradeLine

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_export_part_prints_its_figures_and_cleans_up(capsys):
    call_command("bench", "export", "--trades", "2500", "--lines", "2", "--formats", "ndjson,csv")
    out = capsys.readouterr().out
    assert "filled a tenant with 2,500 trades (2 sub-orders each)" in out
    for fmt in ("ndjson", "csv"):
        line = next(row for row in out.splitlines() if row.strip().startswith(fmt))
        assert "2,500 rows in" in line and "rows/s" in line and "peak RSS" in line
        assert any(
            row.strip().startswith(f"{fmt} ") and "tracemalloc peak" in row
            for row in out.splitlines()
        )
    copy = next(row for row in out.splitlines() if "psql COPY" in row)
    assert "skipped" in copy or ("2,500 rows in" in copy and "exit 0" in copy)
    assert not Tenant.objects.filter(slug__startswith="bench-").exists()
    assert not Trade.objects.exists() and not TradeLine.objects.exists()
