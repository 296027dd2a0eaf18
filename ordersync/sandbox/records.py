"""Frozen records: how the sandbox keeps the versions of trades, refunds and items.

A version's record is a tuple ``(keys, *values)`` whose key tuple is shared by every record
of the same shape; its sub-records (a trade's ``orders``, an item's ``skus``) are frozen the
same way and shared with the previous version while unchanged. A million trades of history
are about four million versions: kept as dicts they took ~17 KB per trade and the sandbox
could not hold a million. Readers get a new dict from :func:`thaw`, which they may change.
"""

from __future__ import annotations

# Keys whose value is a list of sub-records (dicts).
NESTED = frozenset({"orders", "skus"})

_SHAPES: dict[tuple[str, ...], tuple[str, ...]] = {}


def freeze(data: dict, previous: tuple | None = None) -> tuple:
    """``data`` as ``(keys, *values)``; a sub-record equal to the one at its place in
    ``previous`` (the record before, frozen) is shared with it."""
    keys = tuple(data)
    keys = _SHAPES.setdefault(keys, keys)
    values = list(data.values())
    for at, key in enumerate(keys):
        if key in NESTED:
            values[at] = _freeze_list(values[at], _nested(previous, key))
    return (keys, *values)


def thaw(frozen: tuple) -> dict:
    """The dict that ``freeze`` was given (a new one)."""
    data = dict(zip(frozen[0], frozen[1:]))
    for key in NESTED.intersection(data):
        data[key] = [dict(zip(sub[0], sub[1:])) for sub in data[key]]
    return data


def _freeze_list(items: list, before: tuple) -> tuple:
    out = []
    for at, item in enumerate(items):
        frozen = freeze(item)
        if at < len(before) and before[at] == frozen:
            frozen = before[at]
        out.append(frozen)
    return tuple(out)


def _nested(frozen: tuple | None, key: str) -> tuple:
    if frozen is None or key not in frozen[0]:
        return ()
    return frozen[1 + frozen[0].index(key)]
