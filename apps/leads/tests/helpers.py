"""Test helpers: fixtures loaded by name, WhatsApp payloads turned into what channel apps hand us.

``inbound_messages`` is a deliberately small reading of the contract's
payload shape (meta.md section 5.2), so these tests can feed leads real-shaped
data without depending on the Meta app's parser; the webhook-driven tests use
the real parser.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apps.leads.inbound import InboundMessage, Referral

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _value(payload: dict) -> dict:
    return payload["entry"][0]["changes"][0]["value"]


def _referral(data: dict | None) -> Referral | None:
    if not data:
        return None
    return Referral(
        ad_id=data.get("source_id", ""),
        source_type=data.get("source_type", ""),
        source_url=data.get("source_url", ""),
        media_type=data.get("media_type", ""),
        headline=data.get("headline", ""),
        body=data.get("body", ""),
        ctwa_clid=data.get("ctwa_clid", ""),
    )


def inbound_messages(payload: dict) -> list[InboundMessage]:
    value = _value(payload)
    contact = (value.get("contacts") or [{}])[0]
    return [
        InboundMessage(
            channel="whatsapp",
            provider_message_id=item["id"],
            sent_at=datetime.fromtimestamp(int(item["timestamp"]), tz=UTC),
            wa_id=contact.get("wa_id", "") or item.get("from", ""),
            user_id=contact.get("user_id", ""),
            contact_name=(contact.get("profile") or {}).get("name", ""),
            text=(item.get("text") or {}).get("body", ""),
            account_ref=value["metadata"]["phone_number_id"],
            referral=_referral(item.get("referral")),
        )
        for item in value.get("messages", [])
    ]


def inbound(name: str, **changes) -> InboundMessage:
    """The first message of fixture ``name``, with some fields replaced."""
    return replace(inbound_messages(load_fixture(name))[0], **changes)


def statuses(name: str) -> list[tuple[str, str, datetime]]:
    return [
        (item["id"], item["status"], datetime.fromtimestamp(int(item["timestamp"]), tz=UTC))
        for item in _value(load_fixture(name))["statuses"]
    ]


def later(message: InboundMessage, delta: timedelta, message_id: str) -> InboundMessage:
    """The same sender writing again ``delta`` later (a new message id)."""
    return replace(message, sent_at=message.sent_at + delta, provider_message_id=message_id)
