"""What a channel app hands to leads: a message, normalised, with its ad referral.

Provider apps (meta_ads for WhatsApp today; TikTok Shop chat and lead forms
later) parse their own payloads into these and call
``apps.leads.services.message_received`` / ``message_status_changed``. Leads
never parses a provider payload itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Referral:
    """A click-to-message ad referral (WhatsApp ``referral`` object).

    ``ctwa_clid`` is empty for ads that carry none (status ads); attribution
    then rests on ``ad_id`` alone. ``platform`` names the ad platform whose
    enricher can resolve ``ad_id`` (``"meta"``).
    """

    ad_id: str
    platform: str = "meta"
    source_type: str = ""
    source_url: str = ""
    media_type: str = ""
    headline: str = ""
    body: str = ""
    ctwa_clid: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """One inbound message from a contact.

    A contact is matched on ``wa_id`` and on the business-scoped ``user_id``
    that newer payloads carry; either may be empty, not both.
    """

    channel: str
    provider_message_id: str
    sent_at: datetime
    wa_id: str = ""
    user_id: str = ""
    contact_name: str = ""
    text: str = ""
    #: the business account the message reached (WhatsApp phone number id, ...)
    account_ref: str = ""
    referral: Referral | None = None


@dataclass(frozen=True)
class ConversationMessage:
    """One message of a provider conversation, already read out of the provider's payload.

    ``direction`` is ``"in"`` (the contact wrote) or ``"out"`` (the business
    wrote, from the hub or elsewhere). ``text`` is what the inbox shows: the
    message text, or a readable placeholder for cards and media.
    """

    provider_message_id: str
    sent_at: datetime
    direction: str
    text: str = ""


@dataclass(frozen=True)
class Conversation:
    """A provider conversation (TikTok Shop customer service): one ticket per conversation id.

    ``contact_user_id`` names the contact (matched on ``Contact.user_id``, so
    channel apps namespace it); ``messages`` may be empty (a list refresh) or
    hold only the messages not recorded yet.
    """

    channel: str
    conversation_id: str
    contact_user_id: str
    opened_at: datetime
    last_message_at: datetime
    account_ref: str = ""
    contact_name: str = ""
    messages: tuple[ConversationMessage, ...] = ()
    #: set by a sync that read the messages in full up to this time (None from webhooks)
    messages_synced_until: datetime | None = None
