"""The console in Chinese writes times as in English: ISO-like, in TIME_ZONE (platform time,
Asia/Shanghai) with the zone after every time (``2026-11-11 00:00:03 CST``); numbers grouped
by thousands with commas, as Chinese business software does (large counts also read in 万/亿,
``shops/templatetags/console.py``)."""

from ordersync.formats.en.formats import (  # noqa: F401  (Django reads these names)
    DATE_FORMAT,
    DATETIME_FORMAT,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
    TIME_FORMAT,
)

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
