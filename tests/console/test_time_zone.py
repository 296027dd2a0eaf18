"""One time zone, shown: platform time with its offset in the console, commands, logs, demo."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from django.utils import formats, timezone

from ordersync.shown import PlatformTimeFormatter, iso, shown
from tools.demo.status import status_line

MIDNIGHT_UTC = datetime(2026, 11, 10, 16, 0, 3, tzinfo=UTC)  # 00:00:03 on Double 11, GMT+8


def test_shown_and_iso_write_platform_time_with_the_offset():
    assert shown(MIDNIGHT_UTC) == "2026-11-11 00:00:03 +08:00"
    assert iso(MIDNIGHT_UTC) == "2026-11-11T00:00:03+08:00"
    assert shown(None) == "—" and iso(None) is None


def test_the_console_writes_the_zone_after_every_time():
    local = timezone.localtime(MIDNIGHT_UTC)
    assert formats.date_format(local, "DATETIME_FORMAT") == "2026-11-11 00:00:03 CST"
    assert formats.localize(local) == "2026-11-11 00:00:03 CST"


def test_log_lines_are_stamped_in_platform_time():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    record.created, record.msecs = MIDNIGHT_UTC.timestamp(), 120.0
    line = PlatformTimeFormatter("%(asctime)s %(message)s").format(record)
    assert line == "2026-11-11 00:00:03.120 +08:00 hello"


def test_the_demo_status_line_says_its_zone(db):
    assert re.match(r"\d\d:\d\d:\d\d \+08:00  0 trades \|", status_line([]))


def test_another_time_zone_setting_moves_every_time_together(settings):
    settings.TIME_ZONE = "UTC"
    assert shown(MIDNIGHT_UTC) == "2026-11-10 16:00:03 +00:00"
    assert iso(MIDNIGHT_UTC) == "2026-11-10T16:00:03+00:00"
    assert formats.localize(timezone.localtime(MIDNIGHT_UTC)) == "2026-11-10 16:00:03 UTC"
