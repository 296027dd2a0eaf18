"""Times as people read them: in the display zone (``TIME_ZONE``, platform time by default:
Asia/Shanghai) with the offset always written, the same zone in the console, the API,
webhook bodies, commands and log lines."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo

from django.utils import timezone


def zone() -> tzinfo:
    """The display zone: ``TIME_ZONE``."""
    return timezone.get_default_timezone()


def shown(value: datetime | None, empty: str = "—") -> str:
    """``2026-11-11 00:00:03 +08:00``; ``empty`` for None. Naive values are taken as UTC."""
    if value is None:
        return empty
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone()).replace(microsecond=0)
    return f"{local:%Y-%m-%d %H:%M:%S} {offset(local)}"


def offset(value: datetime) -> str:
    """``+08:00``: the value's UTC offset, hours and minutes."""
    raw = value.strftime("%z")
    return f"{raw[:3]}:{raw[3:]}"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in the display zone, ``2026-11-11T00:00:03+08:00``, as the API and webhooks
    write it."""
    return None if value is None else value.astimezone(zone()).isoformat()


class PlatformTimeFormatter(logging.Formatter):
    """Log lines stamped in the display zone with the offset: ``2026-11-11 00:00:03.120 +08:00``."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        at = datetime.fromtimestamp(record.created, zone())
        return f"{at:%Y-%m-%d %H:%M:%S}.{int(record.msecs):03d} {offset(at)}"
