"""Wire format of the TOP gateway: parameters, system-parameter errors and envelopes.

Reference: docs/platform.md §1–3.
"""

from __future__ import annotations

import itertools
import os
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import orjson

from ordersync.sandbox import clock

MESSAGES = {
    7: "App Call Limited",
    9: "Http Action Not Allowed",
    11: "Insufficient ISV Permissions",
    15: "Remote service error",
    21: "Missing Method",
    22: "Invalid Method",
    23: "Invalid Format",
    24: "Missing Signature",
    25: "Invalid Signature",
    26: "Missing Session",
    27: "Invalid Session",
    28: "Missing App Key",
    29: "Invalid App Key",
    30: "Missing Timestamp",
    31: "Invalid Timestamp",
    32: "Missing Version",
    34: "Unsupported Version",
    40: "Missing Required Arguments",
    41: "Invalid Arguments",
}

# Item element names of wrapped lists in default JSON and XML.
LIST_ITEMS = {
    "trades": "trade",
    "orders": "order",
    "refunds": "refund",
    "trace_list": "transit_step_info",
    "service_orders": "service_order",
    "promotion_details": "promotion_detail",
    "messages": "tmc_message",
    "users": "jdp_user",
}

MAX_SKEW_SECONDS = 600
_request_ids = itertools.count(1)
_request_prefix = os.urandom(3).hex()


class TopError(Exception):
    """An error answered as ``error_response`` (always HTTP 200)."""

    def __init__(self, code: int, sub_code: str = "", sub_msg: str = "", msg: str = "") -> None:
        super().__init__(f"{code} {sub_code} {sub_msg}".strip())
        self.code = code
        self.msg = msg or MESSAGES.get(code, "Remote service error")
        self.sub_code = sub_code
        self.sub_msg = sub_msg

    def as_dict(self, request_id: str) -> dict:
        body: dict = {"code": self.code, "msg": self.msg}
        if self.sub_code:
            body["sub_code"] = self.sub_code
        if self.sub_msg:
            body["sub_msg"] = self.sub_msg
        body["request_id"] = request_id
        return body


def isv(sub_code: str, sub_msg: str) -> TopError:
    """A business error under code 15, the caller's fault (do not retry)."""
    return TopError(15, sub_code, sub_msg)


def missing_arg(name: str) -> TopError:
    # The platform names the argument in msg, with no sub_code (as code 41's old form).
    return TopError(40, msg=f"Missing required arguments:{name}")


def invalid_arg(name: str, why: str) -> TopError:
    return TopError(41, f"isv.invalid-parameter:{name}", f"Invalid argument {name}: {why}")


def new_request_id() -> str:
    return f"{_request_prefix}{next(_request_ids):x}"


def merge_params(query: str, body: bytes, content_type: str) -> dict[str, str]:
    """Return query-string and form-body parameters merged (the body wins on a clash)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    if body and "application/x-www-form-urlencoded" in (content_type or "").lower():
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif body and "multipart/form-data" in (content_type or "").lower():
        params.update(_multipart_fields(body, content_type))
    return params


def _multipart_fields(body: bytes, content_type: str) -> dict[str, str]:
    """Return the text fields of a multipart body (file parts are not signed, so skipped)."""
    boundary = content_type.split("boundary=", 1)[-1].strip().strip('"').encode()
    fields = {}
    for part in body.split(b"--" + boundary):
        head, _, value = part.partition(b"\r\n\r\n")
        if b'name="' not in head or b"filename=" in head:
            continue
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        fields[name] = value.rstrip(b"\r\n").decode("utf-8", "replace")
    return fields


def parse_timestamp(value: str) -> float:
    """Return epoch seconds of a ``timestamp`` parameter: GMT+8 string or epoch milliseconds."""
    if value.isdigit():
        return int(value) / 1000.0
    return float(clock.parse(value))


def check_timestamp(value: str | None, now: float) -> None:
    if not value:
        raise TopError(30)
    try:
        ts = parse_timestamp(value)
    except (ValueError, OverflowError):
        raise TopError(31, "isv.invalid-parameter:timestamp", "bad timestamp format") from None
    if abs(ts - now) > MAX_SKEW_SECONDS:
        raise TopError(
            31,
            "isv.timestamp-limit-error",
            "timestamp differs from the server time by more than 10 minutes",
        )


def root_name(method: str) -> str:
    """``taobao.trades.sold.get`` → ``trades_sold_get_response``."""
    name = method[len("taobao.") :] if method.startswith("taobao.") else method
    return name.replace(".", "_") + "_response"


def wrap_lists(result: dict) -> dict:
    """Wrap the top-level lists of ``result`` the default-JSON way (``{"trade": [...]}``).

    Nested lists (a trade's orders) are wrapped by the handlers when they build the items.
    """
    out = {}
    for key, item in result.items():
        out[key] = {LIST_ITEMS.get(key, key.rstrip("s")): item} if isinstance(item, list) else item
    return out


# orjson hands subclasses of the built-in types to ``_default``, which encodes each as its
# built-in base, as the standard library does
ENCODE_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS


def dumps(value) -> bytes:
    """``value`` as compact UTF-8 JSON; a :func:`fragment` in it is copied as it is."""
    return orjson.dumps(value, default=_default, option=ENCODE_OPTIONS)


def fragment(value) -> orjson.Fragment:
    """``value`` encoded once, to be copied into every answer that holds it (list items are
    cached per trade version)."""
    return orjson.Fragment(dumps(value))


def _default(value):
    for base in (str, int, float, dict, list):
        if isinstance(value, base):
            return base(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def render(method: str, result: dict, fmt: str, simplify: bool) -> tuple[str, bytes]:
    """Return (content type, body) of a success response."""
    request_id = new_request_id()
    if fmt == "xml":
        return "text/xml;charset=UTF-8", _xml_document(root_name(method), result, request_id)
    if simplify:
        body = dict(result)
        body["request_id"] = request_id
    else:
        inner = wrap_lists(result)
        inner["request_id"] = request_id
        body = {root_name(method): inner}
    return "application/json;charset=UTF-8", dumps(body)


def render_error(error: TopError, fmt: str) -> tuple[str, bytes]:
    payload = error.as_dict(new_request_id())
    if fmt == "xml":
        return "text/xml;charset=UTF-8", _xml_document("error_response", payload, None)
    return "application/json;charset=UTF-8", dumps({"error_response": payload})


def _xml_document(root: str, payload: dict, request_id: str | None) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8" ?>', f"<{root}>"]
    _xml_fields(payload, parts)
    if request_id:
        parts.append(f"<request_id>{request_id}</request_id>")
    parts.append(f"</{root}>")
    return "".join(parts).encode()


def _xml_fields(payload: dict, parts: list[str]) -> None:
    for key, value in payload.items():
        if isinstance(value, list):
            inner = LIST_ITEMS.get(key, key.rstrip("s"))
            parts.append(f'<{key} list="true">')
            for item in value:
                parts.append(f"<{inner}>")
                if isinstance(item, dict):
                    _xml_fields(item, parts)
                else:
                    parts.append(escape(str(item)))
                parts.append(f"</{inner}>")
            parts.append(f"</{key}>")
        elif isinstance(value, dict):
            parts.append(f"<{key}>")
            _xml_fields(value, parts)
            parts.append(f"</{key}>")
        else:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(f"<{key}>{escape(text)}</{key}>")
