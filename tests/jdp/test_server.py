"""The test server itself: a real MariaDB answers on loopback."""

from __future__ import annotations

import pymysql


def test_mariadb_answers_on_loopback(mariadb_server, rds_url):
    connection = pymysql.connect(host="127.0.0.1", port=mariadb_server.port, user="root")
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        assert "MariaDB" in cursor.fetchone()[0]
        cursor.execute("SHOW DATABASES")
        assert rds_url.rsplit("/", 1)[1] in {row[0] for row in cursor.fetchall()}
    connection.close()
