import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.webhooks.models import WebhookEvent
from apps.webhooks.registry import IncomingEvent
from apps.webhooks.services import events_store

pytestmark = pytest.mark.django_db


def _events(tenant, n, *, prefix, status="processed"):
    events_store(
        source_key="test-source",
        incoming=[
            IncomingEvent(event_id=f"{prefix}{i}", event_type="ORDER_STATUS_CHANGE", payload={})
            for i in range(n)
        ],
    )
    WebhookEvent.objects.filter(event_id__startswith=prefix).update(tenant=tenant, status=status)


def test_webhooks_tab_shows_this_tenants_events_only(owner_client, tenant_a, tenant_b, test_source):
    _events(tenant_a, 3, prefix="a")
    _events(tenant_a, 1, prefix="f", status="failed")
    _events(tenant_b, 5, prefix="b")
    WebhookEvent.objects.filter(event_id="b0").update(last_error="globex-secret-shop")

    response = owner_client.get("/integrations/?tab=webhooks")
    body = response.content.decode()

    assert response.status_code == 200
    assert response.context["per_source"]["test-source"]["counts"] == {"processed": 3, "failed": 1}
    assert len(response.context["recent"]) == 4
    assert "globex-secret-shop" not in body
    assert "ORDER_STATUS_CHANGE" in body


def test_webhooks_tab_costs_the_same_queries_for_few_and_many_events(
    owner_client, tenant_a, test_source
):
    _events(tenant_a, 2, prefix="a")
    with CaptureQueriesContext(connection) as few:
        owner_client.get("/integrations/?tab=webhooks")
    _events(tenant_a, 200, prefix="m")
    with CaptureQueriesContext(connection) as many:
        owner_client.get("/integrations/?tab=webhooks")

    assert len(many.captured_queries) == len(few.captured_queries)
