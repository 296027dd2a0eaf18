"""Wire values: GMT+8 times, money strings, exact ids, and the JSON envelopes around them.

Reference: https://developer.alibaba.com/docs/doc.htm?articleId=101617&docType=1&treeId=780
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import orjson

PLATFORM_TZ = ZoneInfo("Asia/Shanghai")
WIRE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Ids that are int64 on the wire and may exceed 2**53; some captures quote them as strings.
ID_FIELDS = frozenset({"tid", "oid", "refund_id", "num_iid"})

# List wrappers of the default envelope: ``"trades": {"trade": [...]}``. Anything shaped
# ``"<item>s": {"<item>": [...]}`` is flattened too; these are the irregular ones.
LIST_WRAPPERS = {
    "trades": "trade",
    "orders": "order",
    "promotion_details": "promotion_detail",
    "service_orders": "service_order",
    "refunds": "refund",
    "items": "item",
    "skus": "sku",
    "shippings": "shipping",
    "trace_list": "transit_step_info",
    "messages": "tmc_message",
    "users": "jdp_user",
}


# orjson's own ways with datetimes, dataclasses and subclasses are turned off: such values go
# to the standard library as before (which refuses what it always refused)
ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


# decoded JSON in and out: no static shape to name
# twenty digits in a row may be an integer beyond 64 bits, which orjson reads as a float
_LONG_DIGITS, _LONG_DIGITS_TEXT = re.compile(rb"\d{20}"), re.compile(r"\d{20}")


def loads(text: bytes | str) -> Any:  # noqa: ANN401
    """Decode JSON with orjson; what it refuses (NaN, a lone surrogate, invalid UTF-8) or
    would read otherwise (an integer beyond 64 bits, as a float) is read by the standard
    library, as it always was (ValueError when that refuses it too)."""
    long_digits = (
        _LONG_DIGITS.search(text) if isinstance(text, bytes) else _LONG_DIGITS_TEXT.search(text)
    )
    if not long_digits:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return json.loads(text)


def dumps(value: Any) -> bytes:  # noqa: ANN401
    """Encode ``value`` as compact UTF-8 JSON with orjson; what it refuses (an int beyond 64
    bits, a datetime, a Decimal) is encoded, or refused, by the standard library as before."""
    try:
        return orjson.dumps(value, option=ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def parse_time(s: str | None) -> datetime | None:
    """Return the aware Asia/Shanghai datetime of a ``yyyy-MM-dd HH:mm:ss`` wire string."""
    if s is None or s == "":
        return None
    if len(s) == 19 and s[10] == " " and s[4] == s[7] == "-" and s[13] == s[16] == ":":
        # the wire shape exactly: fromisoformat reads it ~20× faster than strptime (the write
        # path parses a few times per record); any other shape gets strptime's strict check
        return datetime.fromisoformat(s).replace(tzinfo=PLATFORM_TZ)
    return datetime.strptime(s, WIRE_TIME_FORMAT).replace(tzinfo=PLATFORM_TZ)


def require_time(s: str | None) -> datetime:
    """``parse_time`` of a time that must be there (a stored state's); ValueError when absent."""
    value = parse_time(s)
    if value is None:
        raise ValueError("a required time is absent")
    return value


def format_time(value: datetime) -> str:
    """Return ``value`` as the platform writes it; naive datetimes are refused, not guessed."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
    return value.astimezone(PLATFORM_TZ).strftime(WIRE_TIME_FORMAT)


def parse_money(s: object) -> Decimal | None:
    """Return a money string such as ``"200.07"`` as a Decimal (None when absent or blank)."""
    if s is None or s == "":
        return None
    try:
        return Decimal(str(s))
    except InvalidOperation:
        raise ValueError(f"not a money amount: {s!r}") from None


def to_wire(value: object) -> str | None:
    """Serialise one request parameter; None means "do not send it" (nor sign it)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        if value and all(isinstance(v, Mapping) for v in value):
            return json.dumps(list(value), ensure_ascii=False, separators=(",", ":"))
        text = ",".join(str(v) for v in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    return text or None


# decoded JSON in, decoded JSON out: no static shape to name
def normalise(value: Any, key: str | None = None) -> Any:  # noqa: ANN401
    """Flatten list wrappers and make ids exact ints, recursively."""
    if isinstance(value, dict):
        inner = _unwrap_list(value, key)
        if inner is not None:
            return [normalise(item) for item in inner]
        return {k: normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if key in ID_FIELDS and isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _unwrap_list(value: dict[str, Any], key: str | None) -> list[Any] | None:
    if key is None:
        return None
    if key in LIST_WRAPPERS and not value:
        return []  # an empty result may come as ``"trades": {}``
    if len(value) != 1:
        return None
    ((item_key, items),) = value.items()
    if not isinstance(items, list):
        return None
    if LIST_WRAPPERS.get(key) == item_key or key == item_key + "s":
        return items
    return None
