"""Replies written in the hub: recorded first, then handed to the channel by a task.

A reply is an outbound :class:`~.models.Message` before anything leaves:

1. :func:`reply_create` (the ticket page's form) stores it ``pending`` with a
   local id (``hub-<hex>``, unique like every provider id) and queues
   ``apps.leads.tasks.send_reply`` after commit;
2. :func:`reply_deliver` (the task) claims it with one conditional UPDATE
   (``pending`` -> ``sending``: a task delivered twice sends once), calls the
   channel's replier (:mod:`.channels`) and stores the outcome: ``sent`` with
   the provider's message id (``delivered`` when the replier already saw it in
   the conversation), or ``failed`` with the reason (redacted);
3. the provider echoing the message back (a webhook or a sync, see
   :mod:`.conversations`) moves a ``sent`` reply to ``delivered``. If the echo was recorded
   before step 2 finished, the echo row gives way to the reply (one row stays).

Sending is never retried on its own: a send is not idempotent at TikTok, so
a failure is shown and the member decides to write again. A task the queue
lost is queued again by the minute sweep; a reply stuck ``sending`` (its
worker died mid-call) is marked failed with "outcome unknown", since it may
have been delivered.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.redaction import redact_text
from apps.integrations.scheduling import enqueue
from apps.integrations.sync import sync_error_text

from .channels import ReplyRefused, Sent, channels
from .models import Message, Ticket

logger = logging.getLogger(__name__)

REPLY_TASK = "apps.leads.tasks.send_reply"
#: The longest reply the form takes (TikTok's limit is not documented; its Seller
#: Center chat box stops well below this).
REPLY_MAX_LENGTH = 2000
#: A reply still ``pending`` this long after it was queued lost its task: queue it
#: again. One ``sending`` this long lost its worker mid-call: mark it failed.
REPLY_LEASE = timedelta(minutes=10)
REPLY_SWEEP_BATCH = 200
LOCAL_ID_PREFIX = "hub-"
ERROR_MAX_LENGTH = 500

Delivery = Message.Delivery


def reply_create(*, ticket: Ticket, user, text: str) -> Message:
    """Record a reply and queue its delivery; raises :class:`ReplyRefused` with the reason."""
    text = (text or "").strip()
    if not text:
        raise ReplyRefused(_("Write a message first."))
    if len(text) > REPLY_MAX_LENGTH:
        raise ReplyRefused(
            _("A reply holds at most %(count)d characters.") % {"count": REPLY_MAX_LENGTH}
        )
    if not channels.can_reply(ticket.channel):
        raise ReplyRefused(
            _("Replies to %(channel)s conversations cannot be sent from the hub.")
            % {"channel": ticket.get_channel_display()}
        )
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.create(
            tenant_id=ticket.tenant_id,
            ticket=ticket,
            channel=ticket.channel,
            direction=Message.Direction.OUT,
            provider_message_id=f"{LOCAL_ID_PREFIX}{uuid.uuid4().hex}",
            text=text,
            sent_at=now,
            delivery_state=Delivery.PENDING,
            delivery_updated_at=now,
            sent_by=user if user is not None and user.is_authenticated else None,
        )
        Ticket.objects.filter(pk=ticket.pk, last_message_at__lt=now).update(last_message_at=now)
        enqueue(REPLY_TASK, message.pk)
    logger.info("leads: reply %s queued on ticket %s", message.pk, ticket.pk)
    return message


def reply_deliver(*, message_id: int) -> str:
    """Hand one queued reply to its channel; returns the outcome (``sent``, ``failed``, ...)."""
    now = timezone.now()
    claimed = Message.objects.filter(
        pk=message_id, direction=Message.Direction.OUT, delivery_state=Delivery.PENDING
    ).update(delivery_state=Delivery.SENDING, delivery_updated_at=now)
    message = (
        Message.objects.select_related("ticket", "ticket__tenant").filter(pk=message_id).first()
    )
    if message is None:
        return "gone"
    if not claimed:
        return message.delivery_state  # another worker has it, or it is done
    replier = channels.replier(message.channel)
    try:
        if replier is None:
            raise ReplyRefused(_("This channel takes no replies from the hub."))
        answer = replier(ticket=message.ticket, text=message.text)
        sent = answer if isinstance(answer, Sent) else Sent(str(answer or ""))
        provider_id = sent.provider_message_id
        if not provider_id:
            raise ReplyRefused(_("The channel accepted the reply without giving its id."))
    except ReplyRefused as exc:
        return _failed(message, str(exc))
    except Exception as exc:  # any failure is the reply's outcome, shown in the thread
        return _failed(message, sync_error_text(exc))
    return _sent(message, provider_id, delivered=sent.delivered)


def _failed(message: Message, reason: str) -> str:
    text = redact_text(reason)[:ERROR_MAX_LENGTH]
    Message.objects.filter(pk=message.pk, delivery_state=Delivery.SENDING).update(
        delivery_state=Delivery.FAILED, delivery_error=text, delivery_updated_at=timezone.now()
    )
    logger.info("leads: reply %s failed", message.pk)
    return Delivery.FAILED


def _sent(message: Message, provider_id: str, *, delivered: bool = False) -> str:
    now = timezone.now()
    state = Delivery.DELIVERED if delivered else Delivery.SENT
    ours = Message.objects.filter(pk=message.pk, delivery_state=Delivery.SENDING)
    try:
        with transaction.atomic():
            ours.update(
                provider_message_id=provider_id,
                delivery_state=state,
                delivery_error="",
                delivery_updated_at=now,
            )
        logger.info("leads: reply %s %s", message.pk, state)
        return state
    except IntegrityError:
        pass
    # The provider's echo of this reply was recorded first: it gives way to ours.
    with transaction.atomic():
        Message.objects.filter(
            tenant_id=message.tenant_id, channel=message.channel, provider_message_id=provider_id
        ).exclude(pk=message.pk).delete()
        ours.update(
            provider_message_id=provider_id,
            delivery_state=Delivery.DELIVERED,
            delivery_error="",
            delivery_updated_at=now,
        )
    logger.info("leads: reply %s sent, its echo was already in", message.pk)
    return Delivery.DELIVERED


def replies_sweep(*, now: datetime | None = None) -> int:
    """Queue replies whose task was lost; fail those whose worker died mid-send. Returns both."""
    now = now or timezone.now()
    cutoff = now - REPLY_LEASE
    outbound = Message.objects.filter(direction=Message.Direction.OUT)
    stuck = outbound.filter(delivery_state=Delivery.SENDING, delivery_updated_at__lt=cutoff).update(
        delivery_state=Delivery.FAILED,
        delivery_error=_(
            "The worker stopped while sending: the outcome is unknown. Check the "
            "conversation before writing again."
        ),
        delivery_updated_at=now,
    )
    lost = list(
        outbound.filter(delivery_state=Delivery.PENDING, delivery_updated_at__lt=cutoff)
        .order_by("delivery_updated_at")
        .values_list("pk", flat=True)[:REPLY_SWEEP_BATCH]
    )
    if lost:
        Message.objects.filter(pk__in=lost, delivery_state=Delivery.PENDING).update(
            delivery_updated_at=now
        )
        for pk in lost:
            enqueue(REPLY_TASK, pk)
    return stuck + len(lost)
