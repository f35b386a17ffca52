"""A database that does not answer is a quick error, not a hung web worker (issue 11).

libpq waits for a connection for ever by default; ``connect_timeout`` (from
``DB_CONNECT_TIMEOUT``) bounds it. Run in a child process, since settings are
read once per process. The stopped-server case (connection refused, a 500 in
well under a second while PostgreSQL is down) is ``bench/fault_pg_outage.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import time, django
django.setup()
from django.conf import settings
from django.db import connection
from django.db.utils import OperationalError
print(settings.DATABASES["default"]["OPTIONS"].get("connect_timeout"))
started = time.monotonic()
try:
    connection.ensure_connection()
    print("connected")
except OperationalError:
    print("refused", round(time.monotonic() - started, 1))
"""


def probe(database_url: str, **env: str) -> list[str]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        **env,
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True,
        text=True, timeout=60, check=True,
    )  # fmt: skip
    return out.stdout.split()


def test_postgres_connections_have_a_connect_timeout():
    assert probe("postgres://postgres@127.0.0.1:1/nothing")[0] == "5"
    assert probe("postgres://postgres@127.0.0.1:1/nothing", DB_CONNECT_TIMEOUT="2")[0] == "2"


def test_a_database_that_never_answers_fails_within_the_timeout():
    # 10.255.255.1 is not routed: the SYN is never answered (or refused at once).
    started = time.monotonic()
    words = probe("postgres://postgres@10.255.255.1:5432/nothing", DB_CONNECT_TIMEOUT="2")
    assert words[1] == "refused"
    assert time.monotonic() - started < 20  # interpreter start-up included
    assert float(words[2]) < 5
