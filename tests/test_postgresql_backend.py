"""The PostgreSQL backend's health check: no round trip for a live connection,
a reconnect for one the server dropped (config/postgresql/base.py)."""

from __future__ import annotations

import select

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL backend only"),
]


def _server_drops_this_connection() -> None:
    """Another session terminates ours, as a server restart or an idle timeout would."""
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    settings = connection.get_connection_params()
    settings.pop("cursor_factory", None)
    settings.pop("context", None)
    with psycopg.connect(**settings, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The backend exits a moment after the signal: wait until its goodbye arrives.
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN)
    poller.poll(5000)


def test_the_engine_is_the_projects_backend():
    assert connection.settings_dict["ENGINE"] == "config.postgresql"


def test_a_live_idle_connection_is_usable_without_a_query(monkeypatch):
    connection.ensure_connection()
    raw = connection.connection
    # Django's own check runs SELECT 1 on a raw cursor, which CaptureQueriesContext
    # cannot see: any cursor opened on the driver's connection fails the test.
    monkeypatch.setattr(
        type(raw), "cursor", lambda *a, **k: pytest.fail("the health check sent a query")
    )
    with CaptureQueriesContext(connection) as queries:
        assert connection.is_usable() is True
    assert len(queries) == 0


def test_a_connection_the_server_dropped_is_not_usable_and_the_next_request_reconnects():
    connection.ensure_connection()
    old = connection.connection
    _server_drops_this_connection()

    assert connection.is_usable() is False

    # What Django does at the start of a request with CONN_HEALTH_CHECKS.
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert connection.connection is not old


def test_a_descriptor_above_1023_is_polled_too():
    """select() refuses descriptors past FD_SETSIZE; a busy process gets them."""
    import os

    connection.ensure_connection()
    raw = connection.connection
    high = os.dup2(raw.fileno(), 1500)
    try:
        raw.fileno = lambda: high  # the same socket, seen through a high descriptor
        assert connection.is_usable() is True
    finally:
        del raw.fileno
        os.close(high)


def test_a_closed_connection_is_not_usable():
    connection.ensure_connection()
    connection.connection.close()
    assert connection.is_usable() is False
    connection.close()
