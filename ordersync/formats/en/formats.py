"""How the console writes dates and times: ISO-like, in TIME_ZONE (platform time, Asia/Shanghai),
with the zone written after every time (``2026-11-11 00:00:03 CST``)."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s T"
