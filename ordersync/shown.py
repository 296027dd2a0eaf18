"""Times as people read them: platform time (Asia/Shanghai) with its offset always written."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from ordersync.taobao.types import PLATFORM_TZ


def shown(value: datetime | None, empty: str = "—") -> str:
    """``2026-11-11 00:00:03 +08:00``; ``empty`` for None. Naive values are taken as UTC."""
    if value is None:
        return empty
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(PLATFORM_TZ).replace(microsecond=0)
    return f"{local:%Y-%m-%d %H:%M:%S} {offset(local)}"


def offset(value: datetime) -> str:
    """``+08:00``: the value's UTC offset, hours and minutes."""
    raw = value.strftime("%z")
    return f"{raw[:3]}:{raw[3:]}"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in platform time, ``2026-11-11T00:00:03+08:00``, as the API and webhooks
    write it."""
    return None if value is None else value.astimezone(PLATFORM_TZ).isoformat()


class PlatformTimeFormatter(logging.Formatter):
    """Log lines stamped in platform time with the offset: ``2026-11-11 00:00:03.120 +08:00``."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        at = datetime.fromtimestamp(record.created, PLATFORM_TZ)
        return f"{at:%Y-%m-%d %H:%M:%S}.{int(record.msecs):03d} {offset(at)}"
