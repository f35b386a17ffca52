"""What the operator sees of faults (issue 11): every counter family at ``/metrics``, and the
correlation id of a webhook delivery carried into the drain task it queues.

The handler side of the correlation (the drain runs each event's handler under
the id of the delivery that brought it) is
``apps/webhooks/tests/test_views.py::test_events_keep_the_correlation_id_of_their_delivery``;
the task side (``pre_execute`` restores it in the worker) is
``apps/integrations/tests/test_observability.py::test_tasks_carry_the_id_of_the_request_that_queued_them``.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.capi.models import ConversionEvent
from apps.integrations.models import SyncRun
from apps.tiktok_shop.signing import webhook_signature
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import drain_kicker

SHOP_BODY = {
    "type": 1,
    "tts_notification_id": "7327112393057371999",
    "shop_id": "7494049642642441621",
    "timestamp": 1718305585,
    "data": {"order_id": "576653688135200001", "order_status": "AWAITING_SHIPMENT"},
}


def post_shop_delivery(client, body: bytes, *, signature: str | None = None, **extra):
    signature = signature or webhook_signature(
        app_key=settings.TIKTOK_SHOP_APP_KEY,
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        raw_body=body,
    )
    return client.post(
        "/webhooks/tiktok-shop/",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=signature,
        **extra,
    )


def metrics(client) -> dict[str, float]:
    """``/metrics`` as {sample line without value: value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in response.content.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


@pytest.fixture
def open_metrics(settings):
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""


@pytest.mark.django_db
def test_metrics_expose_every_counter_family_with_real_figures(
    client, tenant_a, open_metrics, django_capture_on_commit_callbacks
):
    drain_kicker.reset()
    body = json.dumps(SHOP_BODY).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_shop_delivery(client, body).status_code == 200  # stored, queues a drain
    assert post_shop_delivery(client, body, signature="0" * 64).status_code == 401  # rejected
    now = timezone.now()
    SyncRun.objects.create(
        tenant=tenant_a, product="tiktok_shop", kind="orders", connection_id=1,
        status=SyncRun.Status.FAILED, trigger="schedule",
        started_at=now - timedelta(seconds=4), finished_at=now,
    )  # fmt: skip
    for n, status in enumerate(["sent", "sent", "pending", "failed"]):
        ConversionEvent.objects.create(
            tenant=tenant_a, platform="meta", event_name="LeadSubmitted",
            event_id=f"lead-{n}", event_time=now, status=status,
        )  # fmt: skip

    samples = metrics(client)

    assert samples['hub_webhook_events{source="tiktok-shop",status="received"}'] == 1
    assert (
        samples['hub_webhook_deliveries_rejected_total{reason="signature",source="tiktok-shop"}']
        == 1
    )
    assert samples['hub_sync_runs{kind="orders",product="tiktok_shop",status="failed"}'] == 1
    assert samples['hub_sync_run_seconds_total{kind="orders",product="tiktok_shop"}'] == 4
    assert samples['hub_conversions{platform="meta",status="sent"}'] == 2
    assert samples['hub_conversions{platform="meta",status="pending"}'] == 1
    assert samples['hub_conversions{platform="meta",status="failed"}'] == 1
    # The delivery queued one drain task: the queue depth says so. (The Redis broker's
    # list is shared with every earlier test, which never run their tasks.)
    if settings.Q_BROKER == "orm":
        assert samples["hub_task_queue_depth"] == 1
    else:
        assert samples["hub_task_queue_depth"] >= 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    settings.Q_BROKER != "orm", reason="reads the queued task from the ORM broker's table"
)
def test_the_drain_task_a_delivery_queues_carries_its_correlation_id(client):
    """In autocommit (as in production) the kick runs inside the request, under its id."""
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    drain_kicker.reset()
    body = json.dumps(SHOP_BODY).encode()

    response = post_shop_delivery(client, body, HTTP_X_REQUEST_ID="delivery-0000777")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "delivery-0000777"
    assert WebhookEvent.objects.get().correlation_id == "delivery-0000777"
    task = SignedPackage.loads(OrmQ.objects.get().payload)
    assert task["func"] == "apps.webhooks.tasks.drain"
    assert task["correlation_id"] == "delivery-0000777"
