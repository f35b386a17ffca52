"""Django's PostgreSQL backend with a health check that costs no round trip.

``CONN_HEALTH_CHECKS`` makes Django ask ``is_usable()`` before a persistent
connection's first query in each request, and the stock answer is a
``SELECT 1``: one more round trip on every request, which on the webhook
ingest path is as much as the INSERT it serves. An idle connection has
nothing to read, so instead the socket is polled without waiting: when the
server went away (restart, idle timeout, failover) it has closed the socket
or sent its termination notice, the socket turns readable, and only then is
the real ``SELECT 1`` sent, which fails and makes Django reconnect. A
connection inside a transaction, or one libpq already knows is broken, gets
the stock check.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        # poll(), not select(): select() cannot watch a descriptor above 1023, which
        # a process holding many sockets (a broker, a cache) soon hands out.
        poller = select.poll()
        try:
            poller.register(connection.fileno(), select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError):
            return False
        return super().is_usable() if readable else True
