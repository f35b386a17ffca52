"""Conversation tickets (TikTok Shop customer service) as leads records them, provider-free."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from apps.leads.conversations import conversations_record
from apps.leads.inbound import Conversation, ConversationMessage
from apps.leads.models import Contact, Message, Ticket
from apps.leads.services import tickets_expire_due

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def message(n: int, *, at: datetime, direction: str = "in", text: str = "") -> ConversationMessage:
    return ConversationMessage(
        provider_message_id=f"m{n}", sent_at=at, direction=direction, text=text or f"text {n}"
    )


def conversation(cid: str = "c1", *, buyer: str = "b1", messages=(), name: str = "Albert"):
    last = max((m.sent_at for m in messages), default=T0)
    return Conversation(
        channel="tiktok_shop",
        conversation_id=cid,
        contact_user_id=f"tiktok_shop:{buyer}",
        contact_name=name,
        account_ref="shop-1",
        opened_at=T0,
        last_message_at=last,
        messages=tuple(messages),
    )


def test_one_ticket_per_conversation_and_each_message_once(tenant_a):
    first = conversation(messages=[message(1, at=T0), message(2, at=T0 + timedelta(minutes=1))])
    conversations_record(tenant=tenant_a, conversations=[first])
    conversations_record(tenant=tenant_a, conversations=[first])  # a redelivery

    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.conversation_id, ticket.account_ref) == (
        "tiktok_shop",
        "c1",
        "shop-1",
    )
    assert ticket.contact.user_id == "tiktok_shop:b1"
    assert [m.provider_message_id for m in ticket.messages.all()] == ["m1", "m2"]
    assert ticket.last_message_at == T0 + timedelta(minutes=1)


def test_one_buyer_may_have_two_open_conversations(tenant_a):
    """Two shops of one seller: the same buyer, two conversations, two open tickets."""
    conversations_record(
        tenant=tenant_a,
        conversations=[conversation("c1", messages=[message(1, at=T0)]), conversation("c2")],
    )
    assert Contact.objects.count() == 1
    assert Ticket.objects.filter(status="open").count() == 2


def test_the_database_refuses_a_second_ticket_for_one_conversation(tenant_a):
    conversations_record(tenant=tenant_a, conversations=[conversation()])
    ticket = Ticket.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.create(
            tenant=tenant_a,
            contact=ticket.contact,
            channel="tiktok_shop",
            conversation_id="c1",
            last_message_at=T0,
            opened_at=T0,
            status="expired",
        )


def test_an_older_message_never_moves_the_last_message_time_back(tenant_a):
    conversations_record(
        tenant=tenant_a,
        conversations=[conversation(messages=[message(2, at=T0 + timedelta(hours=1))])],
    )
    conversations_record(
        tenant=tenant_a, conversations=[conversation(messages=[message(1, at=T0)])]
    )

    ticket = Ticket.objects.get()
    assert ticket.last_message_at == T0 + timedelta(hours=1)
    assert ticket.messages.count() == 2


def test_an_expired_conversation_ticket_reopens_when_the_conversation_goes_on(tenant_a):
    conversations_record(
        tenant=tenant_a, conversations=[conversation(messages=[message(1, at=T0)])]
    )
    assert tickets_expire_due(now=T0 + timedelta(days=8)) == 1
    ticket = Ticket.objects.get()
    assert ticket.status == "expired"

    later = T0 + timedelta(days=9)
    conversations_record(
        tenant=tenant_a, conversations=[conversation(messages=[message(2, at=later)])]
    )

    ticket.refresh_from_db()
    assert (ticket.status, ticket.closed_at, ticket.last_message_at) == ("open", None, later)
    assert Ticket.objects.count() == 1


def test_a_business_message_with_the_id_of_our_reply_marks_it_delivered(tenant_a):
    conversations_record(
        tenant=tenant_a, conversations=[conversation(messages=[message(1, at=T0)])]
    )
    ticket = Ticket.objects.get()
    ours = Message.objects.create(
        tenant=tenant_a,
        ticket=ticket,
        channel="tiktok_shop",
        direction="out",
        provider_message_id="m9",
        text="Our reply",
        sent_at=T0,
        delivery_state="sent",
    )
    echo = message(9, at=T0 + timedelta(seconds=1), direction="out", text="Our reply")
    conversations_record(tenant=tenant_a, conversations=[conversation(messages=[echo])])

    ours.refresh_from_db()
    assert ours.delivery_state == "delivered"
    assert Message.objects.filter(provider_message_id="m9").count() == 1


def test_conversations_are_recorded_per_tenant(tenant_a, tenant_b):
    conversations_record(
        tenant=tenant_a, conversations=[conversation(messages=[message(1, at=T0)])]
    )
    conversations_record(
        tenant=tenant_b, conversations=[conversation(messages=[message(1, at=T0)])]
    )

    assert Ticket.objects.filter(tenant=tenant_a).count() == 1
    assert Ticket.objects.filter(tenant=tenant_b).count() == 1
    assert Message.objects.filter(provider_message_id="m1").count() == 2


def test_only_conversation_channels_are_taken(tenant_a):
    whatsapp = Conversation(
        channel="whatsapp",
        conversation_id="c1",
        contact_user_id="u1",
        opened_at=T0,
        last_message_at=T0,
    )
    with pytest.raises(ValueError):
        conversations_record(tenant=tenant_a, conversations=[whatsapp])
