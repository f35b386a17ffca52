"""What ``/healthz`` checks: the database and the task broker answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}


def check_database(alias: str = "default") -> Check:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("healthz: database check failed: %s", type(exc).__name__)
        return Check("database", False, type(exc).__name__)
    return Check("database", True, connections[alias].vendor)


def check_broker() -> Check:
    """Ask the configured django-q2 broker to answer.

    The ORM broker's own ``ping()`` always says yes, so for it we read its
    queue table; Redis is pinged for real.
    """
    try:
        if settings.Q_BROKER == "redis":
            import redis

            client = redis.Redis.from_url(
                settings.Q_CLUSTER["redis"], socket_connect_timeout=2, socket_timeout=2
            )
            client.ping()
        else:
            from django_q.models import OrmQ

            OrmQ.objects.using(settings.Q_CLUSTER["orm"]).exists()
    except Exception as exc:
        logger.warning("healthz: broker check failed: %s", type(exc).__name__)
        return Check("broker", False, type(exc).__name__)
    return Check("broker", True, settings.Q_BROKER)


def health_report() -> tuple[bool, dict]:
    checks = [check_database(), check_broker()]
    healthy = all(c.ok for c in checks)
    return healthy, {
        "status": "ok" if healthy else "unavailable",
        "checks": {c.name: c.as_dict() for c in checks},
    }
