"""TikTok Shop customer service: buyer conversations as tickets in the leads inbox.

Contract §3.6 "Customer service inbox" and §3.5 (webhook types 13 and 14).
Each conversation is one :class:`apps.leads.models.Ticket` on channel
``tiktok_shop`` (keyed on the conversation id; its contact is the BUYER
participant) and each message one :class:`apps.leads.models.Message`. Leads
does the writing (:mod:`apps.leads.conversations`); this module reads
TikTok's payloads into :class:`apps.leads.inbound.Conversation` and talks to
TikTok.

**Sensitive pack.** The Customer service pack (``shop_chat``,
``seller.customer_service``) gives access to buyers' messages, so it is
requested only with an explicit confirmation. Without it nothing here calls
TikTok: the sync run succeeds with nothing fetched, webhooks are marked done
without a call, replies are refused, and the inbox says why it is empty
(:func:`inbox_notice`).

**Sync** (kind ``conversations``, hourly; webhooks bring messages within
seconds, the sync repairs what a lost webhook missed): the conversation list
is walked shop by shop, 20 a page. A conversation whose latest message is
newer than what the last sync read in full (``Ticket.messages_synced_until``)
has its messages read newest first, 10 a page, until the walk reaches that
point (at most :data:`MESSAGE_PAGES_MAX` pages: older history is left in
Seller Center). A page costs the same queries whatever it holds: one for what
is known, up to three for contacts, the ticket upsert, then the message
upsert and two UPDATEs.

**Messages.** ``content`` is a JSON *string*: TEXT shows its ``content``;
other types show a readable placeholder (``[Product card]``...). A message
from the BUYER (or SYSTEM, about the buyer) is inbound; SHOP,
CUSTOMER_SERVICE and ROBOT messages are outbound and, when their id is one of
our replies, mark it delivered. Messages TikTok flags ``is_visible: false``
are not recorded.

**Contacts** are keyed ``tiktok_shop:<im_user_id>`` in ``Contact.user_id``:
the buyer's chat id is what both the conversation list and the webhook's
``sender`` carry, and the prefix keeps it apart from WhatsApp's user ids.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.integrations.http import ProviderError
from apps.integrations.models import ConnectionStatus
from apps.integrations.sync import Page, Rows, Skip, SkipItem, SyncKind
from apps.leads.channels import InboxNotice, ReplyRefused, Sent, channels
from apps.leads.conversations import (
    TICKET_KEY,
    conversation_messages_record,
    conversation_ticket_rows,
    conversations_record,
)
from apps.leads.inbound import Conversation, ConversationMessage
from apps.leads.models import Channel, Message, Ticket
from apps.webhooks.models import WebhookEvent

from .models import Shop, TikTokShopConnection
from .orders import unix_time
from .webhooks import event_data, shop_for_event

logger = logging.getLogger(__name__)

PRODUCT = "tiktok_shop"
CHANNEL = Channel.TIKTOK_SHOP
PACK = "shop_chat"
SCOPE = "seller.customer_service"
CONTACT_PREFIX = "tiktok_shop:"
#: The list's maximum page size (contract: ``page_size`` ≤ 20) and the messages' (≤ 10).
CONVERSATIONS_PAGE_SIZE = 20
MESSAGES_PAGE_SIZE = 10
#: A conversation's first sync reads at most this many pages of messages (50 messages).
MESSAGE_PAGES_MAX = 5
#: A webhook about a conversation the hub does not know looks for it this far down the list.
FIND_PAGES_MAX = 3
#: Once an hour: webhooks carry messages as they happen; the sync repairs what one
#: missed, and TikTok counts 10,000 customer-service queries a day (45101004).
SCHEDULE_MINUTES = 60

OUTBOUND_ROLES = frozenset({"SHOP", "CUSTOMER_SERVICE", "ROBOT"})
#: What the inbox shows for messages that are not text (TEXT shows its own words).
PLACEHOLDERS = {
    "IMAGE": gettext_lazy("[Image]"),
    "VIDEO": gettext_lazy("[Video]"),
    "EMOTICONS": gettext_lazy("[Sticker]"),
    "PRODUCT_CARD": gettext_lazy("[Product card]"),
    "ORDER_CARD": gettext_lazy("[Order card]"),
    "RETURN_REFUND_CARD": gettext_lazy("[Return or refund card]"),
    "COUPON_CARD": gettext_lazy("[Coupon card]"),
    "ALLOCATED_SERVICE": gettext_lazy("[A customer service agent joined]"),
    "NOTIFICATION": gettext_lazy("[Notification]"),
    "BUYER_ENTER_FROM_TRANSFER": gettext_lazy("[The buyer was transferred here]"),
    "BUYER_ENTER_FROM_PRODUCT": gettext_lazy("[The buyer came from a product page]"),
    "BUYER_ENTER_FROM_ORDER": gettext_lazy("[The buyer came from an order]"),
}
UNKNOWN_PLACEHOLDER = gettext_lazy("[A message the hub cannot show: see Seller Center]")
#: Ids carried next to each card's placeholder, when the card names them.
CARD_IDS = {
    "PRODUCT_CARD": "product_id",
    "ORDER_CARD": "order_id",
    "RETURN_REFUND_CARD": "order_id",
}


# --- the pack ------------------------------------------------------------------------------


def enabled(connection: TikTokShopConnection) -> bool:
    """The tenant confirmed the Customer service pack and TikTok did not refuse its scope."""
    if PACK not in (connection.scope_packs or []):
        return False
    granted = connection.granted_scopes or []
    return not granted or SCOPE in granted


def inbox_notice(*, tenant) -> InboxNotice | None:
    """Why the inbox holds no TikTok Shop conversations (one query), or None."""
    connection = TikTokShopConnection.objects.filter(tenant=tenant).live().first()
    if connection is None or enabled(connection):
        return None
    link = reverse("integrations:hub") + "?tab=tiktok#card-tiktok_shop"
    if PACK not in (connection.scope_packs or []):
        message = _(
            "TikTok Shop conversations are not synced: the Customer service pack gives access "
            "to buyers' messages, so it is used only once a tenant admin confirms it."
        )
        label = _("Confirm the Customer service pack on the TikTok Shop card")
    else:
        message = _(
            "TikTok Shop conversations are not synced: TikTok did not grant "
            "seller.customer_service. Enable it on the app in Partner Center, then reconnect."
        )
        label = _("Open the TikTok Shop card")
    return InboxNotice(channel=CHANNEL, message=message, link_url=link, link_label=label)


# --- reading TikTok's payloads ----------------------------------------------------------------


def message_text(message_type: str, content: Any) -> str:
    """What the inbox shows for a message: TEXT's words, a placeholder for anything else."""
    parsed: Any = None
    if isinstance(content, str) and content:
        try:
            parsed = json.loads(content)
        except ValueError:
            parsed = None
    elif isinstance(content, Mapping):
        parsed = content
    if message_type == "TEXT":
        if isinstance(parsed, Mapping) and isinstance(parsed.get("content"), str):
            return parsed["content"]
        return content if isinstance(content, str) and parsed is None else str(UNKNOWN_PLACEHOLDER)
    text = str(PLACEHOLDERS.get(message_type, UNKNOWN_PLACEHOLDER))
    id_key = CARD_IDS.get(message_type)
    if id_key and isinstance(parsed, Mapping) and parsed.get(id_key):
        text = f"{text} {parsed[id_key]}"
    return text


def message_of(raw: Mapping[str, Any], *, id_key: str = "id") -> ConversationMessage | None:
    """A message of the API (``id``) or of a type-14 push (``message_id``); None to leave out."""
    message_id = str(raw.get(id_key) or "")
    sent_at = unix_time(raw.get("create_time"))
    if not message_id or sent_at is None or raw.get("is_visible") is False:
        return None
    role = str((raw.get("sender") or {}).get("role") or "")
    return ConversationMessage(
        provider_message_id=message_id,
        sent_at=sent_at,
        direction=Message.Direction.OUT if role in OUTBOUND_ROLES else Message.Direction.IN,
        text=message_text(str(raw.get("type") or ""), raw.get("content")),
    )


def buyer_of(conversation: Mapping[str, Any]) -> Mapping[str, Any] | None:
    participants = conversation.get("participants") or []
    return next(
        (p for p in participants if isinstance(p, Mapping) and p.get("role") == "BUYER"), None
    )


def conversation_of(
    item: Mapping[str, Any],
    *,
    shop_id: str,
    messages: Sequence[Mapping[str, Any]] = (),
    synced_until: datetime | None = None,
) -> Conversation:
    """A list item as leads' :class:`Conversation`; :class:`SkipItem` when it cannot be one."""
    conversation_id = str(item.get("id") or "")
    if not conversation_id:
        raise SkipItem("no conversation id")
    buyer = buyer_of(item)
    if buyer is None or not buyer.get("im_user_id"):
        raise SkipItem("no BUYER participant")
    opened_at = unix_time(item.get("create_time")) or timezone.now()
    latest = item.get("latest_message") or {}
    return Conversation(
        channel=CHANNEL,
        conversation_id=conversation_id,
        contact_user_id=f"{CONTACT_PREFIX}{buyer['im_user_id']}",
        contact_name=str(buyer.get("nickname") or ""),
        account_ref=shop_id,
        opened_at=opened_at,
        last_message_at=unix_time(latest.get("create_time")) or opened_at,
        messages=tuple(m for m in (message_of(raw) for raw in messages) if m is not None),
        messages_synced_until=synced_until,
    )


# --- the sync kind ----------------------------------------------------------------------------


def _messages_since(client, *, shop: Shop, conversation_id: str, until: datetime | None):
    """A conversation's messages newest first, back to ``until`` (or MESSAGE_PAGES_MAX pages)."""
    collected: list[dict] = []
    token = ""
    for _page in range(MESSAGE_PAGES_MAX):
        data = client.conversation_messages(
            shop_cipher=shop.cipher,
            conversation_id=conversation_id,
            page_size=MESSAGES_PAGE_SIZE,
            page_token=token,
        )
        page = [dict(m) for m in data.get("messages") or []]
        collected.extend(page)
        token = str(data.get("next_page_token") or "")
        oldest = min(
            (unix_time(m.get("create_time")) for m in page if m.get("create_time")), default=None
        )
        if not token or not page or (until is not None and oldest is not None and oldest < until):
            break
    return collected


def _fetch_shop_page(connection: TikTokShopConnection, shop: Shop, token: str):
    """One page of a shop's conversations, each with the messages the hub has not read."""
    from .services import client_for

    with client_for(connection) as client:
        data = client.conversations(
            shop_cipher=shop.cipher, page_size=CONVERSATIONS_PAGE_SIZE, page_token=token
        )
        items = [dict(c) for c in data.get("conversations") or []]
        ids = [str(c.get("id")) for c in items if c.get("id")]
        known = dict(
            Ticket.objects.filter(
                tenant_id=connection.tenant_id, channel=CHANNEL, conversation_id__in=ids
            ).values_list("conversation_id", "messages_synced_until")
        )
        for item in items:
            until = known.get(str(item.get("id")))
            latest = unix_time((item.get("latest_message") or {}).get("create_time"))
            item["_shop_id"] = shop.shop_id
            item["_synced_until"] = until
            item["_messages"] = []
            if not item.get("id") or buyer_of(item) is None or latest is None:
                continue  # to_rows skips a conversation without a buyer, with the reason
            if until is not None and latest <= until:
                continue
            item["_messages"] = _messages_since(
                client, shop=shop, conversation_id=str(item["id"]), until=until
            )
            item["_synced_until"] = latest
    return items, str(data.get("next_page_token") or ""), None


def fetch_conversations(*, connection: TikTokShopConnection, cursor: dict, window) -> Page:
    """One page of the shop-by-shop walk; nothing at all without the Customer service pack."""
    from .sync import walk_shops

    if not enabled(connection):
        logger.info(
            "tiktok_shop conversations sync connection=%s skipped: Customer service pack not "
            "confirmed or %s not granted",
            connection.pk,
            SCOPE,
        )
        return Page(items=[], next_cursor=None)
    return walk_shops(
        connection=connection,
        cursor=cursor,
        fetch=lambda shop, token: _fetch_shop_page(connection, shop, token),
        time_of=lambda item: None,
        page_size=CONVERSATIONS_PAGE_SIZE,
    )


#: to_rows hands the page's conversations to after_upsert on the connection object the
#: runner passes to both (the runner's rows hold ticket columns only).
_PAGE_ATTRIBUTE = "_customer_service_page"


def conversation_rows(*, connection: TikTokShopConnection, items: list[dict], synced_at) -> Rows:
    conversations, skipped = [], []
    for item in items:
        try:
            conversations.append(
                conversation_of(
                    item,
                    shop_id=str(item.get("_shop_id") or ""),
                    messages=item.get("_messages") or (),
                    synced_until=item.get("_synced_until"),
                )
            )
        except SkipItem as exc:
            skipped.append(Skip(item=str(item.get("id") or "?"), reason=str(exc)))
    setattr(connection, _PAGE_ATTRIBUTE, conversations)
    rows = conversation_ticket_rows(
        tenant=connection.tenant, conversations=conversations, synced=True
    )
    return Rows(rows=rows, skipped=skipped)


def conversations_after_upsert(*, connection: TikTokShopConnection, rows, synced_at) -> None:
    conversations = connection.__dict__.pop(_PAGE_ATTRIBUTE, [])
    conversation_messages_record(tenant=connection.tenant, conversations=conversations)


CUSTOMER_SERVICE_SYNC_KINDS = [
    SyncKind(
        product=PRODUCT,
        kind="conversations",
        label=gettext_lazy("Customer service"),
        model="leads.Ticket",
        unique_fields=TICKET_KEY,
        fetch_page=fetch_conversations,
        to_rows=conversation_rows,
        after_upsert=conversations_after_upsert,
        schedule_minutes=SCHEDULE_MINUTES,
    )
]


# --- webhooks ---------------------------------------------------------------------------------


class ConversationNotListed(Exception):
    """A message for a conversation TikTok does not list yet: the inbox retries the event."""


def _find_conversation(shop: Shop, conversation_id: str) -> dict | None:
    """Look for a conversation in the first pages of the shop's list (newest activity first)."""
    from .services import client_for

    token = ""
    with client_for(shop.connection) as client:
        for _page in range(FIND_PAGES_MAX):
            data = client.conversations(
                shop_cipher=shop.cipher, page_size=CONVERSATIONS_PAGE_SIZE, page_token=token
            )
            for item in data.get("conversations") or []:
                if str(item.get("id")) == conversation_id:
                    return dict(item)
            token = str(data.get("next_page_token") or "")
            if not token:
                return None
    return None


def _shop_with_pack(event: WebhookEvent) -> Shop | None:

    shop = shop_for_event(event)
    if not enabled(shop.connection):
        logger.info(
            "tiktok_shop webhook %s: Customer service pack not confirmed, nothing recorded",
            event.pk,
        )
        return None
    return shop


def on_new_conversation(event: WebhookEvent) -> None:
    """Type 13: a conversation started or an agent joined or left; refresh it from the list."""
    shop = _shop_with_pack(event)
    if shop is None:
        return
    conversation_id = str(event_data(event).get("conversation_id") or "")
    if not conversation_id:
        logger.warning("tiktok_shop webhook %s has no conversation_id", event.pk)
        return
    item = _find_conversation(shop, conversation_id)
    if item is None:
        logger.info("tiktok_shop webhook %s: conversation not in the first pages", event.pk)
        return
    try:
        conversation = conversation_of(item, shop_id=shop.shop_id)
    except SkipItem as exc:
        logger.info("tiktok_shop webhook %s: conversation skipped (%s)", event.pk, exc)
        return
    conversations_record(tenant=shop.connection.tenant, conversations=[conversation])


def on_new_message(event: WebhookEvent) -> None:
    """Type 14: record the message on its conversation's ticket (made from the list if new).

    The push carries the whole message, so a known conversation costs no API
    call. A redelivery inserts nothing (the message id is unique). The
    shop's own messages mark our replies delivered.
    """
    shop = _shop_with_pack(event)
    if shop is None:
        return
    data = event_data(event)
    conversation_id = str(data.get("conversation_id") or "")
    message = message_of(data, id_key="message_id")
    if not conversation_id or message is None:
        logger.info("tiktok_shop webhook %s: no visible message to record", event.pk)
        return
    tenant = shop.connection.tenant
    ticket = (
        Ticket.objects.for_tenant(tenant)
        .filter(channel=CHANNEL, conversation_id=conversation_id)
        .select_related("contact")
        .first()
    )
    if ticket is not None:
        known = Conversation(
            channel=CHANNEL,
            conversation_id=conversation_id,
            contact_user_id=ticket.contact.user_id,
            opened_at=ticket.opened_at,
            last_message_at=message.sent_at,
            account_ref=ticket.account_ref,
            messages=(message,),
        )
        conversation_messages_record(tenant=tenant, conversations=[known])
        return
    item = _find_conversation(shop, conversation_id)
    if item is not None:
        conversation = conversation_of(item, shop_id=shop.shop_id)
        conversation = _with_message(conversation, message)
    else:
        sender = data.get("sender") or {}
        if sender.get("role") != "BUYER" or not sender.get("im_user_id"):
            raise ConversationNotListed(
                f"conversation {conversation_id} is not listed yet and the push names no buyer"
            )
        conversation = Conversation(
            channel=CHANNEL,
            conversation_id=conversation_id,
            contact_user_id=f"{CONTACT_PREFIX}{sender['im_user_id']}",
            contact_name=str(sender.get("nickname") or ""),
            account_ref=shop.shop_id,
            opened_at=message.sent_at,
            last_message_at=message.sent_at,
            messages=(message,),
        )
    conversations_record(tenant=tenant, conversations=[conversation])


def _with_message(conversation: Conversation, message: ConversationMessage) -> Conversation:
    from dataclasses import replace

    return replace(conversation, messages=(message,))


# --- replies ----------------------------------------------------------------------------------


def reply_send(*, ticket: Ticket, text: str) -> Sent:
    """Send a member's reply to the ticket's conversation; returns TikTok's message id.

    TikTok has no delivery receipt for chat messages: once the send is
    answered, the newest page of the conversation is read back (one call) and
    a reply listed there is ``delivered`` (the buyer's chat shows it). If
    that read fails, the reply stays ``sent`` and the next push or sync of
    the conversation moves it on.
    """
    from .services import client_for

    shop = (
        Shop.objects.filter(tenant_id=ticket.tenant_id, shop_id=ticket.account_ref)
        .select_related("connection")
        .first()
    )
    if shop is None or shop.connection.status == ConnectionStatus.DISCONNECTED:
        raise ReplyRefused(_("The shop of this conversation is no longer connected."))
    if not enabled(shop.connection):
        raise ReplyRefused(_("The Customer service pack is not confirmed on the TikTok Shop card."))
    if not ticket.conversation_id:
        raise ReplyRefused(_("This ticket has no TikTok Shop conversation."))
    with client_for(shop.connection) as client:
        message_id = client.message_send(
            shop_cipher=shop.cipher, conversation_id=ticket.conversation_id, text=text
        )
        try:
            newest = client.conversation_messages(
                shop_cipher=shop.cipher,
                conversation_id=ticket.conversation_id,
                page_size=MESSAGES_PAGE_SIZE,
            )
        except ProviderError as exc:
            logger.info("tiktok_shop reply on ticket %s not read back: %s", ticket.pk, exc.code)
            return Sent(message_id)
    listed = {str(m.get("id")) for m in newest.get("messages") or []}
    return Sent(message_id, delivered=message_id in listed)


def register() -> None:
    """Called from ``AppConfig.ready()``: the leads inbox learns how to reply and why it is empty."""
    channels.register_replier(CHANNEL, "apps.tiktok_shop.customer_service.reply_send")
    channels.register_notice(CHANNEL, "apps.tiktok_shop.customer_service.inbox_notice")
