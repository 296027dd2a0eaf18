"""The receiver snippet of docs/webhooks.md, run as written against real signed deliveries."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.support.records import wire_trade
from trades.sync.write import write_trades
from trades.webhooks.endpoints import rotate_secret
from trades.webhooks.runner import deliver_batch
from trades.webhooks.signing import signature_headers

PAGE = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def page_verify():
    """The one ```python block of docs/webhooks.md that defines ``verify``, executed."""
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    (snippet,) = [block for block in blocks if "def verify(" in block]
    namespace: dict = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), namespace)  # noqa: S102  (our own docs)
    return namespace["verify"]


@pytest.mark.django_db
def test_the_snippet_verifies_real_deliveries_and_refuses_tampering(shop_a, issued, receiver):
    verify = page_verify()
    write_trades(shop_a, [wire_trade(tid=1)])
    (result,) = deliver_batch()
    assert result.ok
    (got,) = receiver.received
    assert verify(issued.secret, got.headers, got.body)
    assert not verify(issued.secret, got.headers, got.body + b" ")
    assert not verify("whsec_" + "x" * 32, got.headers, got.body)
    assert not verify(issued.secret, {**got.headers, "webhook-id": "evt_other"}, got.body)

    # during a rotation each delivery carries two v1 values: either secret verifies
    new = rotate_secret(issued.endpoint)
    write_trades(shop_a, [wire_trade(tid=2)])
    deliver_batch()
    rotated = receiver.received[-1]
    assert rotated.headers["webhook-signature"].count("v1=") == 2
    assert verify(issued.secret, rotated.headers, rotated.body)
    assert verify(new.secret, rotated.headers, rotated.body)


def test_the_snippet_refuses_an_old_timestamp():
    verify = page_verify()
    body = b'{"id":"evt_1"}'
    old = signature_headers(["whsec_s"], "evt_1", body, timestamp=int(time.time()) - 301)
    fresh = signature_headers(["whsec_s"], "evt_1", body)
    assert verify("whsec_s", fresh, body) and not verify("whsec_s", old, body)
    assert verify("whsec_s", old, body, tolerance=600)
