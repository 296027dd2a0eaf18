"""A Node client reads 19-digit ids exactly from the string fields, against a live server.

Node is Debian's ``nodejs`` (``.ci/run`` installs it). Outside CI a machine without it skips
this test; in CI (``CI=true``) a missing Node is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import transaction

from tests.support.records import make_trade
from trades.api.key_models import ApiKey
from trades.api.keys import create_api_key
from trades.feed.changes import Change, record_changes
from trades.models import TradeLine

SCRIPT = Path(__file__).parent / "node" / "read_ids.mjs"
BIG_TID = 3900000000000016884  # the nearest double is 3900000000000016896


def _node() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Node is missing in CI: .ci/run installs Debian's nodejs")
        pytest.skip("Node is not installed (apt-get install nodejs); CI runs this test")
    return node


def test_node_reads_exact_ids_from_the_api_and_the_feed(live_server, shop_a):
    node = _node()
    trade = make_trade(shop_a, BIG_TID, lines=0)
    TradeLine.objects.create(trade=trade, oid=BIG_TID, title="item", num=1)
    with transaction.atomic():
        record_changes(
            shop_a, [Change("trade", trade.pk, BIG_TID, trade.status, None, trade.modified)]
        )
    token = create_api_key(shop_a.tenant, "node", ApiKey.Scope.READ).token
    done = subprocess.run(
        [node, str(SCRIPT), live_server.url, token, str(BIG_TID)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    # the number is rounded by JSON.parse; the strings are exact
    assert report == {
        "tid_str": str(BIG_TID),
        "oid_str": str(BIG_TID),
        "key_str": str(BIG_TID),
        "number_exact": False,
    }
