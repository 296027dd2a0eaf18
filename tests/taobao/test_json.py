"""The wire JSON: orjson where it reads and writes the same values as the standard library,
the standard library for what orjson refuses, so a record is read and stored as it was."""

from __future__ import annotations

import json
import math
from datetime import datetime
from decimal import Decimal

import pytest

from ordersync.taobao.types import PLATFORM_TZ, dumps, loads

RECORD = {"tid": 1347456243421196949, "title": "龙井 250 g", "payment": "200.07", "orders": []}


def test_a_record_reads_and_writes_as_with_the_standard_library():
    text = json.dumps(RECORD, ensure_ascii=False)
    assert loads(text.encode()) == json.loads(text) == RECORD
    assert json.loads(dumps(RECORD)) == RECORD
    assert "龙井".encode() in dumps(RECORD)  # UTF-8 as it is, not \u escapes


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (b'{"a": NaN}', None),  # orjson refuses the literal the standard library reads
        (b'{"a": "\\ud800"}', "\ud800"),  # a lone surrogate
        (b'{"a": "\xff"}', "\ufffd"),  # invalid UTF-8 is replaced, as the body always was
    ],
)
def test_what_orjson_refuses_is_read_by_the_standard_library(body, value):
    read = loads(body)["a"]
    assert math.isnan(read) if value is None else read == value


def test_malformed_json_is_still_a_value_error():
    with pytest.raises(ValueError):
        loads(b'{"trades": {"tr')


def test_what_orjson_refuses_to_write_is_written_or_refused_as_before():
    assert dumps({"n": 2**70, 1: "x"}) == b'{"n":1180591620717411303424,"1":"x"}'
    for value in (datetime(2026, 11, 11, tzinfo=PLATFORM_TZ), Decimal("1.00")):
        with pytest.raises(TypeError):
            dumps({"v": value})


def test_an_integer_beyond_64_bits_is_read_exactly_not_as_a_float():
    big = 123456789012345678901234567890
    assert loads(b'{"tid": %d}' % big) == {"tid": big}
    assert loads(f'{{"tid": {big}}}') == {"tid": big}
    assert loads(b'{"tid": 18446744073709551615}') == {"tid": 2**64 - 1}  # orjson's own
