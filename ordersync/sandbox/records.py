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
    frozen = _flat(data)
    for key in NESTED:
        items = data.get(key)
        if items is not None:
            at = frozen[0].index(key) + 1
            before = () if previous is None else _nested(previous, key)
            frozen = (*frozen[:at], _freeze_list(items, before), *frozen[at + 1 :])
    return frozen


def thaw(frozen: tuple) -> dict:
    """The dict that ``freeze`` was given (a new one)."""
    data = dict(zip(frozen[0], frozen[1:], strict=True))
    for key in NESTED:
        if key in data:
            data[key] = [dict(zip(sub[0], sub[1:], strict=True)) for sub in data[key]]
    return data


def value(frozen: tuple, key: str):
    """One top-level value of a frozen record, without thawing the rest."""
    return frozen[frozen[0].index(key) + 1]


def _flat(data: dict) -> tuple:
    keys = tuple(data)
    shape = _SHAPES.get(keys)
    if shape is None:
        shape = _SHAPES[keys] = keys
    return (shape, *data.values())


def _freeze_list(items: list, before: tuple) -> tuple:
    out = []
    for at, item in enumerate(items):
        frozen = _flat(item)
        if at < len(before) and before[at] == frozen:
            frozen = before[at]
        out.append(frozen)
    return tuple(out)


def _nested(frozen: tuple, key: str) -> tuple:
    shape = frozen[0]
    return frozen[shape.index(key) + 1] if key in shape else ()
