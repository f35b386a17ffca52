import pytest
from django.urls import reverse

from apps.integrations import health

pytestmark = pytest.mark.django_db


def test_healthy_when_database_and_broker_answer(client, settings):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"] == {"ok": True, "detail": settings.Q_BROKER}


def test_unavailable_when_the_redis_broker_does_not_answer(client, settings):
    settings.Q_BROKER = "redis"
    # Nothing listens on port 9 (discard) here: the connection is refused at once.
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": "redis://127.0.0.1:9/0"}
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_unavailable_when_the_database_fails(client, monkeypatch):
    def broken(alias="default"):
        return health.Check("database", False, "OperationalError")

    monkeypatch.setattr(health, "check_database", broken)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "detail": "OperationalError"}


def test_database_check_reports_a_real_failure():
    from unittest import mock

    with mock.patch.object(health.connections["default"], "cursor", side_effect=RuntimeError):
        check = health.check_database()
    assert check.ok is False
    assert check.detail == "RuntimeError"
