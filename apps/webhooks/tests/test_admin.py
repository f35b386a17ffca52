import pytest
from django.urls import reverse

from apps.webhooks.models import WebhookEvent
from apps.webhooks.registry import IncomingEvent
from apps.webhooks.services import events_store

pytestmark = pytest.mark.django_db


def test_admin_lists_events_and_replays_failed_ones(admin_client, test_source):
    events_store(
        source_key="test-source",
        incoming=[IncomingEvent(event_id="e1", event_type="boom", payload={"order_id": "5766"})],
    )
    WebhookEvent.objects.update(status=WebhookEvent.Status.FAILED, attempts=8, last_error="x")
    event = WebhookEvent.objects.get()

    listing = admin_client.get(reverse("admin:webhooks_webhookevent_changelist"))
    detail = admin_client.get(reverse("admin:webhooks_webhookevent_change", args=[event.pk]))
    replay = admin_client.post(
        reverse("admin:webhooks_webhookevent_changelist"),
        {"action": "replay", "_selected_action": [event.pk]},
        follow=True,
    )

    assert listing.status_code == 200
    assert b"test-source" in listing.content
    assert b"5766" in detail.content
    assert b"1 event queued again" in replay.content
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == ("received", 0, "")
