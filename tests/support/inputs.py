"""Inputs that have broken parsers before: every one must be a 4xx or a clean 200."""

from __future__ import annotations

NASTY = [
    "Infinity",
    "-Infinity",
    "NaN",
    "1e400",
    "-1e400",
    "9" * 40,
    "-" + "9" * 40,
    "18446744073709551616",
    "9223372036854775808",
    "0",
    "-1",
    "1.5",
    "\x00",
    "a\x00b",
    "2026-13-01",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0000-00-00",
    "10000-01-01",
    "2026-11-11T25:00:00",
    "true",
    "[]",
    "{}",
    "",
    " ",
    "🙂",
]
