"""WhatsApp Cloud API webhooks, plugged into the inbox as the source ``meta`` (contract §5).

- ``GET /webhooks/meta/``: the subscription handshake echoes ``hub.challenge``
  only when ``hub.verify_token`` equals ``META_WEBHOOK_VERIFY_TOKEN``.
- ``POST /webhooks/meta/``: ``X-Hub-Signature-256: sha256=<hex>`` must be the
  HMAC-SHA256 of the raw body keyed with the app secret (one secret for every
  tenant's numbers), compared in constant time. No secret, no header or a
  wrong one: refused, nothing stored.
- One delivery may batch many updates: :func:`split` makes one event per
  inbound message (id = the message's ``wamid``) and one per status update
  (id = ``wamid:status``, since one message goes sent -> delivered -> read).
  Other ``changes[].field`` values (``account_update``, template updates...)
  are stored as ``whatsapp.<field>`` with no handler: marked ignored, not
  refused, so Meta does not retry them.
- Handlers route by ``phone_number_id`` (the event's ``account_ref``) to the
  tenant that registered the number, parse the payload into
  :class:`~apps.leads.inbound.InboundMessage` and call the leads services.
  The referral is passed through as Meta sent it: ``ctwa_clid`` may be absent
  (status ads) and is never replaced by the ad id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.leads.inbound import InboundMessage, Referral
from apps.webhooks.models import WebhookEvent
from apps.webhooks.registry import IncomingEvent, InvalidPayload, UnknownAccount, json_body

from .services import whatsapp_number_for

SOURCE = "meta"
MESSAGE = "whatsapp.message"
STATUS = "whatsapp.status"
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
WHATSAPP_OBJECT = "whatsapp_business_account"


# --- handshake and signature ------------------------------------------------------------


def handshake(request: HttpRequest) -> HttpResponse:
    """Meta's subscription check: 200 with the raw challenge, or 403 (contract §5.1)."""
    expected = settings.META_WEBHOOK_VERIFY_TOKEN
    given = request.GET.get("hub.verify_token", "")
    if (
        request.GET.get("hub.mode") == "subscribe"
        and expected
        and hmac.compare_digest(given.encode(), expected.encode())
    ):
        return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
    return HttpResponse("verification failed", status=403, content_type="text/plain")


def signature_of(body: bytes, secret: str | None = None) -> str:
    """``sha256=<hex>`` of the raw body, as Meta signs it (and our sandbox command does)."""
    key = (settings.META_APP_SECRET if secret is None else secret).encode()
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(request: HttpRequest, body: bytes) -> bool:
    """Constant-time check of ``X-Hub-Signature-256`` over the exact bytes received."""
    if not settings.META_APP_SECRET:
        return False
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not given.startswith(SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(given.encode(), signature_of(body).encode())


# --- split --------------------------------------------------------------------------------


def _unix(value: Any) -> datetime | None:
    """WhatsApp timestamps: unix seconds, as a string."""
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _contact_for(message: Mapping, contacts: list) -> dict:
    """The ``contacts[]`` entry of the message's sender (by ``wa_id`` or ``user_id``)."""
    sender = str(message.get("from") or "").lstrip("+")
    sender_user = str(message.get("from_user_id") or "")
    for contact in contacts:
        if not isinstance(contact, Mapping):
            continue
        if sender and str(contact.get("wa_id") or "").lstrip("+") == sender:
            return dict(contact)
        if sender_user and contact.get("user_id") == sender_user:
            return dict(contact)
    first = next((c for c in contacts if isinstance(c, Mapping)), None)
    return dict(first) if first is not None and len(contacts) == 1 else {}


def _change_events(entry: Mapping, change: Mapping) -> list[IncomingEvent]:
    field = str(change.get("field") or "")
    value = change.get("value") if isinstance(change.get("value"), Mapping) else {}
    metadata = (
        dict(value.get("metadata") or {}) if isinstance(value.get("metadata"), Mapping) else {}
    )
    phone_number_id = str(metadata.get("phone_number_id") or "")
    waba_id = str(entry.get("id") or "")
    if field != "messages":
        digest = hashlib.sha256(
            json.dumps(change, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:40]
        return [
            IncomingEvent(
                event_id=f"{field or 'unknown'}:{waba_id}:{digest}",
                event_type=f"whatsapp.{field or 'unknown'}",
                payload={"waba_id": waba_id, "change": dict(change)},
                account_ref=phone_number_id or waba_id,
            )
        ]
    contacts = [c for c in value.get("contacts") or [] if isinstance(c, Mapping)]
    events = []
    for message in value.get("messages") or []:
        if not isinstance(message, Mapping) or not message.get("id"):
            raise InvalidPayload("a message without an id")
        events.append(
            IncomingEvent(
                event_id=str(message["id"]),
                event_type=MESSAGE,
                payload={
                    "waba_id": waba_id,
                    "metadata": metadata,
                    "contact": _contact_for(message, contacts),
                    "message": dict(message),
                },
                account_ref=phone_number_id,
                occurred_at=_unix(message.get("timestamp")),
            )
        )
    for status in value.get("statuses") or []:
        if not isinstance(status, Mapping) or not status.get("id") or not status.get("status"):
            raise InvalidPayload("a status without an id or a status")
        events.append(
            IncomingEvent(
                event_id=f"{status['id']}:{status['status']}",
                event_type=STATUS,
                payload={"waba_id": waba_id, "metadata": metadata, "status": dict(status)},
                account_ref=phone_number_id,
                occurred_at=_unix(status.get("timestamp")),
            )
        )
    return events


def split(body: bytes) -> list[IncomingEvent]:
    """The events of a verified delivery: one per message, one per status update."""
    data = json_body(body)
    if not isinstance(data, Mapping) or not isinstance(data.get("entry"), list):
        raise InvalidPayload("expected {'object': ..., 'entry': [...]}")
    if data.get("object") not in (None, WHATSAPP_OBJECT):
        # Another Graph object (page, leadgen...) on the same app: not ours to handle yet.
        return []
    events: list[IncomingEvent] = []
    for entry in data["entry"]:
        if not isinstance(entry, Mapping):
            raise InvalidPayload("an entry that is not an object")
        for change in entry.get("changes") or []:
            if isinstance(change, Mapping):
                events.extend(_change_events(entry, change))
    return events


# --- parse ---------------------------------------------------------------------------------


def _text_of(message: Mapping) -> str:
    """The words of a message, whatever its type (caption for media, title for replies)."""
    kind = message.get("type")
    body = message.get(kind) if isinstance(message.get(kind), Mapping) else {}
    if kind == "text":
        return str(body.get("body") or "")
    if kind == "button":
        return str(body.get("text") or "")
    if kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        return str(reply.get("title") or "")
    if kind == "reaction":
        return str(body.get("emoji") or "")
    return str(body.get("caption") or "")


def referral_of(message: Mapping) -> Referral | None:
    """The click-to-WhatsApp referral, passed through faithfully (``ctwa_clid`` may be "")."""
    referral = message.get("referral")
    if not isinstance(referral, Mapping):
        return None
    return Referral(
        ad_id=str(referral.get("source_id") or ""),
        platform="meta",
        source_type=str(referral.get("source_type") or ""),
        source_url=str(referral.get("source_url") or ""),
        media_type=str(referral.get("media_type") or ""),
        headline=str(referral.get("headline") or ""),
        body=str(referral.get("body") or ""),
        ctwa_clid=str(referral.get("ctwa_clid") or ""),
    )


def inbound_message(payload: Mapping, *, received_at: datetime | None = None) -> InboundMessage:
    """A stored ``whatsapp.message`` payload -> the leads app's InboundMessage.

    The contact is matched by ``wa_id`` (digits, a leading ``+`` dropped) and
    by the business-scoped ``user_id`` newer payloads carry; ``wa_id`` may be
    an empty string for users who adopted a username (contract §0.7). A
    message without a readable ``timestamp`` is dated when we received it:
    retrying would not make one appear.
    """
    message = payload.get("message") or {}
    contact = payload.get("contact") or {}
    metadata = payload.get("metadata") or {}
    profile = contact.get("profile") if isinstance(contact.get("profile"), Mapping) else {}
    wa_id = str(contact.get("wa_id") or message.get("from") or "").lstrip("+")
    sent_at = _unix(message.get("timestamp")) or received_at or timezone.now()
    return InboundMessage(
        channel="whatsapp",
        provider_message_id=str(message.get("id") or ""),
        sent_at=sent_at,
        wa_id=wa_id,
        user_id=str(contact.get("user_id") or message.get("from_user_id") or ""),
        contact_name=str(profile.get("name") or ""),
        text=_text_of(message),
        account_ref=str(metadata.get("phone_number_id") or ""),
        referral=referral_of(message),
    )


# --- handlers ------------------------------------------------------------------------------


def _route(event: WebhookEvent):
    number = whatsapp_number_for(event.account_ref)
    if number is None:
        raise UnknownAccount(f"no tenant registered WhatsApp phone number id {event.account_ref!r}")
    event.tenant_id = number.tenant_id
    return number.tenant


def handle_message(event: WebhookEvent) -> None:
    """An inbound message: to the tenant's tickets, with its referral."""
    from apps.leads import services as leads

    tenant = _route(event)
    message = inbound_message(event.payload, received_at=event.received_at)
    leads.message_received(tenant=tenant, message=message)


def handle_status(event: WebhookEvent) -> None:
    """A delivery state of a message we sent (sent, delivered, read, failed, played)."""
    from apps.leads import services as leads

    tenant = _route(event)
    status = event.payload.get("status") or {}
    at = _unix(status.get("timestamp")) or event.occurred_at
    leads.message_status_changed(
        tenant=tenant,
        provider_message_id=str(status.get("id") or ""),
        status=str(status.get("status") or ""),
        at=at,
    )


def register() -> None:
    """Called from ``MetaAdsConfig.ready()``."""
    from apps.webhooks.registry import WebhookSource, webhooks

    webhooks.register_source(
        WebhookSource(
            key=SOURCE,
            label=gettext_lazy("Meta (WhatsApp Cloud API)"),
            verify=verify,
            split=split,
            handshake=handshake,
        )
    )
    webhooks.register_handler(SOURCE, MESSAGE, "apps.meta_ads.webhooks.handle_message")
    webhooks.register_handler(SOURCE, STATUS, "apps.meta_ads.webhooks.handle_status")
