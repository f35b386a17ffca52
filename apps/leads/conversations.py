"""Tickets that follow a provider's conversations (TikTok Shop customer service).

On WhatsApp a ticket belongs to the contact (one open ticket per contact and
channel, a new one after the tenant's expiration). On a conversation channel
(:data:`~.models.CONVERSATION_CHANNELS`) the provider already groups messages
in conversations with their own ids, so there is **one ticket per
conversation**, keyed on ``(tenant, channel, conversation_id)``:

- a page of conversations becomes one bulk upsert of tickets and one of
  messages, whatever its size (contacts: at most three queries; tickets: one
  upsert; messages: one id lookup, one upsert, one UPDATE for our replies the
  provider echoed back, one UPDATE for last-message times and reopening);
- a message id is recorded once (``leads_message_once``): a redelivered
  webhook or a sync overlapping a webhook inserts nothing;
- a business message whose id is one of our replies moves that reply to
  ``delivered`` (the provider shows it in the conversation); other business
  messages (written in Seller Center) are recorded as ``delivered`` too;
- an expired ticket that gets a newer message opens again (the conversation
  goes on; there is no second ticket for it).

Channel apps parse their payloads into :class:`~.inbound.Conversation` and call
:func:`conversations_record` (webhooks) or the two halves the sync runner uses
(:func:`conversation_ticket_rows` before its upsert, :func:`conversation_messages_record`
after). Nothing here logs names or message text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from apps.integrations.upsert import bulk_upsert
from apps.tenants.models import Tenant

from .inbound import Conversation
from .models import CONVERSATION_CHANNELS, Contact, Message, Ticket

logger = logging.getLogger(__name__)

TICKET_KEY = ("tenant", "channel", "conversation_id")
MESSAGE_KEY = ("tenant", "channel", "provider_message_id")

Delivery = Message.Delivery


@dataclass(frozen=True)
class ConversationsRecorded:
    #: conversation id -> ticket pk
    tickets: dict[str, int]
    #: messages offered (new ones are inserted, known ones left alone)
    messages: int


def _check(conversations: Sequence[Conversation]) -> None:
    for conversation in conversations:
        if conversation.channel not in CONVERSATION_CHANNELS:
            raise ValueError(f"{conversation.channel!r} is not a conversation channel")
        if not conversation.conversation_id or not conversation.contact_user_id:
            raise ValueError("a conversation needs its id and its contact's user id")


def contacts_for(*, tenant: Tenant, people: dict[str, str]) -> dict[str, int]:
    """``{user_id: contact pk}`` for ``{user_id: name}``, creating the missing ones.

    At most three queries: the known ones, one insert of the others (a
    concurrent insert of the same user id is ignored), and a read of what the
    insert made. A known contact keeps its name.
    """
    if not people:
        return {}
    known = dict(
        Contact.objects.for_tenant(tenant)
        .filter(user_id__in=list(people))
        .values_list("user_id", "pk")
    )
    missing = [user_id for user_id in people if user_id not in known]
    if missing:
        Contact.objects.bulk_create(
            [
                Contact(tenant=tenant, user_id=user_id, name=people[user_id][:255])
                for user_id in missing
            ],
            ignore_conflicts=True,
        )
        known.update(
            Contact.objects.for_tenant(tenant)
            .filter(user_id__in=missing)
            .values_list("user_id", "pk")
        )
    return known


def conversation_ticket_rows(
    *, tenant: Tenant, conversations: Sequence[Conversation], synced: bool = False
) -> list[dict]:
    """Ticket rows (for :func:`~apps.integrations.upsert.bulk_upsert` on :data:`TICKET_KEY`).

    Creates the contacts the rows need. Status, stage and deal are left out,
    so a new ticket starts open and new, and an existing one keeps them.
    ``synced`` rows (from a sync's walk) also carry ``messages_synced_until``.
    """
    _check(conversations)
    contacts = contacts_for(
        tenant=tenant, people={c.contact_user_id: c.contact_name for c in conversations}
    )
    rows = [
        {
            "tenant_id": tenant.pk,
            "channel": c.channel,
            "conversation_id": c.conversation_id,
            "contact_id": contacts[c.contact_user_id],
            "account_ref": c.account_ref[:255],
            "opened_at": c.opened_at,
            "last_message_at": max(
                [c.last_message_at, *(m.sent_at for m in c.messages)], default=c.last_message_at
            ),
        }
        for c in conversations
    ]
    if synced:
        for row, conversation in zip(rows, conversations, strict=True):
            row["messages_synced_until"] = conversation.messages_synced_until
    return rows


def conversation_messages_record(
    *, tenant: Tenant, conversations: Sequence[Conversation]
) -> ConversationsRecorded:
    """Record the conversations' messages on their tickets (which must exist).

    Constant queries: the tickets' ids, one insert-if-new of the messages, one
    UPDATE for echoed replies (when there are business messages), one UPDATE
    that moves each ticket's last message time forward and reopens expired
    tickets the conversation went on in.
    """
    if not conversations:
        return ConversationsRecorded(tickets={}, messages=0)
    channel = conversations[0].channel
    tickets = dict(
        Ticket.objects.for_tenant(tenant)
        .filter(channel=channel, conversation_id__in=[c.conversation_id for c in conversations])
        .values_list("conversation_id", "pk")
    )
    rows, ours = [], []
    newest: dict[int, object] = {}
    for conversation in conversations:
        ticket_id = tickets.get(conversation.conversation_id)
        if ticket_id is None:
            continue
        for message in conversation.messages:
            outbound = message.direction == Message.Direction.OUT
            rows.append(
                {
                    "tenant_id": tenant.pk,
                    "ticket_id": ticket_id,
                    "channel": channel,
                    "direction": message.direction,
                    "provider_message_id": message.provider_message_id,
                    "text": message.text,
                    "sent_at": message.sent_at,
                    "delivery_state": Delivery.DELIVERED if outbound else Delivery.RECEIVED,
                }
            )
            if outbound:
                ours.append(message.provider_message_id)
            if newest.get(ticket_id) is None or message.sent_at > newest[ticket_id]:
                newest[ticket_id] = message.sent_at
    if rows:
        bulk_upsert(model=Message, rows=rows, unique_fields=MESSAGE_KEY, update_fields=[])
    if ours:
        Message.objects.for_tenant(tenant).filter(
            channel=channel,
            direction=Message.Direction.OUT,
            provider_message_id__in=ours,
            delivery_state__in=("", Delivery.SENT),
        ).update(delivery_state=Delivery.DELIVERED, delivery_updated_at=timezone.now())
    if newest:
        _move_forward(newest)
    return ConversationsRecorded(tickets=tickets, messages=len(rows))


def _move_forward(newest: dict[int, object]) -> None:
    """One UPDATE: last message times only move forward; an expired ticket that goes on reopens."""
    later = Case(
        *[
            When(pk=pk, last_message_at__lt=at, then=Value(at, output_field=DateTimeField()))
            for pk, at in newest.items()
        ],
        default=F("last_message_at"),
        output_field=DateTimeField(),
    )
    Ticket.objects.filter(pk__in=list(newest)).update(last_message_at=later)
    reopened = (
        Ticket.objects.filter(pk__in=list(newest), status=Ticket.Status.EXPIRED)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__lt=F("last_message_at")))
        .update(status=Ticket.Status.OPEN, closed_at=None)
    )
    if reopened:
        logger.info("leads: %s conversation tickets reopened by new messages", reopened)


@transaction.atomic
def conversations_record(
    *, tenant: Tenant, conversations: Sequence[Conversation]
) -> ConversationsRecorded:
    """Upsert the conversations' tickets and record their messages, in one transaction.

    What webhooks use (the sync runner calls the two halves itself). An
    existing ticket keeps its status, stage, opening time and last message
    time unless a newer message moves it.
    """
    if not conversations:
        return ConversationsRecorded(tickets={}, messages=0)
    rows = conversation_ticket_rows(tenant=tenant, conversations=conversations)
    bulk_upsert(
        model=Ticket, rows=rows, unique_fields=TICKET_KEY, update_fields=["contact", "account_ref"]
    )
    return conversation_messages_record(tenant=tenant, conversations=conversations)
