"""message_status_changed: delivery states only move forward."""

import pytest

from apps.leads.models import Message
from apps.leads.services import message_received, message_status_changed

from .helpers import inbound, statuses

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbound(tenant_a, queued):
    ticket = message_received(tenant=tenant_a, message=inbound("whatsapp_messages__text"))

    def make(provider_message_id: str, state: str = "") -> Message:
        return Message.objects.create(
            tenant=tenant_a,
            ticket=ticket,
            channel="whatsapp",
            direction="out",
            provider_message_id=provider_message_id,
            text="Olá Ana! Segue o preço.",
            sent_at=ticket.last_message_at,
            delivery_state=state,
        )

    return make


def apply(tenant, fixture: str) -> None:
    for message_id, status, at in statuses(fixture):
        message_status_changed(tenant=tenant, provider_message_id=message_id, status=status, at=at)


def test_out_of_order_statuses_end_at_the_furthest_state(tenant_a, outbound):
    [(message_id, _s, _t), (_m, _r, read_at), _delivered] = statuses(
        "whatsapp_statuses__sent_delivered_read"
    )
    row = outbound(message_id)

    apply(tenant_a, "whatsapp_statuses__sent_delivered_read")

    row.refresh_from_db()
    assert (row.delivery_state, row.delivery_updated_at) == ("read", read_at)


@pytest.mark.parametrize(
    ("current", "status", "expected"),
    [
        ("", "sent", "sent"),
        ("sent", "delivered", "delivered"),
        ("delivered", "sent", "delivered"),
        ("read", "delivered", "read"),
        ("sent", "failed", "failed"),
        ("delivered", "failed", "delivered"),
        ("read", "failed", "read"),
        ("failed", "sent", "failed"),
        ("delivered", "played", "read"),
        ("sent", "deleted", "sent"),
    ],
)
def test_states_only_move_forward(tenant_a, outbound, current, status, expected):
    row = outbound("wamid.out", current)
    message_status_changed(
        tenant=tenant_a, provider_message_id="wamid.out", status=status, at=row.sent_at
    )
    row.refresh_from_db()
    assert row.delivery_state == expected


def test_a_failed_status_is_recorded(tenant_a, outbound):
    [(message_id, _status, at)] = statuses("whatsapp_statuses__failed")
    row = outbound(message_id, "sent")

    apply(tenant_a, "whatsapp_statuses__failed")

    row.refresh_from_db()
    assert (row.delivery_state, row.delivery_updated_at) == ("failed", at)


def test_statuses_never_touch_inbound_messages_or_another_tenants(tenant_a, tenant_b, outbound):
    inbound_row = Message.objects.get(direction="in")
    message_status_changed(
        tenant=tenant_a,
        provider_message_id=inbound_row.provider_message_id,
        status="read",
        at=inbound_row.sent_at,
    )
    row = outbound("wamid.out", "sent")
    message_status_changed(
        tenant=tenant_b, provider_message_id="wamid.out", status="read", at=row.sent_at
    )
    inbound_row.refresh_from_db()
    row.refresh_from_db()
    assert (inbound_row.delivery_state, row.delivery_state) == ("received", "sent")


def test_a_status_for_a_message_we_never_recorded_is_ignored(tenant_a, outbound):
    message_status_changed(
        tenant=tenant_a,
        provider_message_id="wamid.sent-elsewhere",
        status="read",
        at=Message.objects.get().sent_at,
    )
    assert Message.objects.count() == 1
