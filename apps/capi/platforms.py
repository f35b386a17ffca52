"""What each platform accepts: event names, batch sizes, ages, and the event objects we build.

Facts from the contracts; each constant says where it comes from.

- **Meta, Conversions API for Business Messaging** (meta.md §3.1, §4): up to
  1,000 events a request; an ``event_time`` older than 7 days fails the whole
  request, and one invalid event rejects the whole batch; only the event
  names of :data:`META_MESSAGING_EVENTS`; ``user_data`` carries
  ``whatsapp_business_account_id`` and ``ctwa_clid`` unhashed. Meta does not
  deduplicate these events: our unique event id is the only guard.
- **TikTok Events API 2.0** (tiktok-ads.md §5): 1-1,000 events a request,
  ``event_source=web`` with the pixel code as ``event_source_id``, ``ttclid``
  unhashed in ``user``, e-mail / phone / external id SHA-256; TikTok
  deduplicates on ``event_source_id`` + ``event_id`` + ``event``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from . import hashing
from .models import Platform

#: meta.md §0.1 / §4.4: the only names Business Messaging accepts; anything else is
#: refused with error_subcode 2804066 ("Messaging Event Invalid Event Type").
META_MESSAGING_EVENTS: tuple[str, ...] = (
    "Purchase",
    "LeadSubmitted",
    "InitiateCheckout",
    "AddToCart",
    "ViewContent",
    "OrderCreated",
    "OrderShipped",
    "OrderDelivered",
    "OrderCanceled",
    "OrderReturned",
    "CartAbandoned",
    "QualifiedLead",
    "RatingProvided",
    "ReviewProvided",
)
#: tiktok-ads.md §5: the current standard web events (Sept 2025) ...
TIKTOK_EVENTS: tuple[str, ...] = (
    "AddPaymentInfo",
    "AddToCart",
    "AddToWishlist",
    "ApplicationApproval",
    "CompleteRegistration",
    "Contact",
    "CustomizeProduct",
    "Download",
    "FindLocation",
    "InitiateCheckout",
    "Lead",
    "Purchase",
    "Schedule",
    "Search",
    "StartTrial",
    "SubmitApplication",
    "Subscribe",
    "ViewContent",
)
#: ... and the older names integrations still use (the pixel may be set up with them).
TIKTOK_LEGACY_EVENTS: tuple[str, ...] = (
    "CompletePayment",
    "PlaceAnOrder",
    "SubmitForm",
    "ClickButton",
)

#: What the mapping offers per (platform, stage); the first is the default.
STAGE_EVENT_CHOICES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    (Platform.META, "qualified"): (
        ("LeadSubmitted", "LeadSubmitted"),
        ("QualifiedLead", "QualifiedLead"),
    ),
    (Platform.META, "won"): (("Purchase", "Purchase"), ("OrderCreated", "OrderCreated")),
    (Platform.TIKTOK, "qualified"): (
        ("Lead", "Lead"),
        ("SubmitForm", _("SubmitForm (legacy name)")),
        ("CompleteRegistration", "CompleteRegistration"),
    ),
    (Platform.TIKTOK, "won"): (
        ("Purchase", "Purchase"),
        ("CompletePayment", _("CompletePayment (legacy name)")),
        ("PlaceAnOrder", _("PlaceAnOrder (legacy name)")),
    ),
}

#: Event id prefix per stage: ``lead-<ticket>``, ``purchase-<ticket>``. Deterministic, so
#: a stage reached twice produces the same id and the unique key keeps one row.
EVENT_ID_PREFIX: dict[str, str] = {"qualified": "lead", "won": "purchase"}


@dataclass(frozen=True)
class PlatformRules:
    #: events one request may carry (more and the whole request is refused)
    max_batch: int
    #: events older than this are refused without a call (the platform would fail the batch)
    max_age: timedelta
    #: the click id an event cannot be attributed without
    click_id_label: str
    #: the limit, for people
    age_limit_label: str = ""


RULES: dict[str, PlatformRules] = {
    # meta.md §3.1: <= 1000 events; older than 7 days fails the request. We stop at
    # 6 days 12 h (the contract's checklist, §8.6): a retry a few hours later must
    # not be the one that poisons a batch.
    Platform.META: PlatformRules(
        max_batch=1000,
        max_age=timedelta(days=6, hours=12),
        click_id_label="ctwa_clid",
        age_limit_label=_("7 days (Meta)"),
    ),
    # tiktok-ads.md §5: 1-1000 events. The contract names no maximum age for web
    # events; we hold TikTok to the same 7-day window as Meta (a conversion reported
    # a week late attributes poorly anyway).
    Platform.TIKTOK: PlatformRules(
        max_batch=1000,
        max_age=timedelta(days=6, hours=12),
        click_id_label="ttclid",
        age_limit_label=_("7 days (the hub's limit for TikTok)"),
    ),
}


def event_id_for(*, stage: str, ticket_id: int) -> str:
    return f"{EVENT_ID_PREFIX[stage]}-{ticket_id}"


def _amount(value: Decimal | None) -> float | None:
    # A JSON number: float() of a two-decimal amount serialises to the same digits.
    return float(value) if value is not None else None


@dataclass(frozen=True)
class CustomerInfo:
    """What we may know of the customer, raw; only hashes of it leave this module."""

    phone: str = ""  # international digits (WhatsApp wa_id) or as typed in a form
    email: str = ""
    external_id: str = ""
    phone_country_code: str = ""


def _hashed_or_none(func, value: str, **kwargs) -> str | None:
    if not value:
        return None
    try:
        return func(value, **kwargs)
    except hashing.NormalisationError:
        return None


def meta_messaging_event(
    *,
    event_name: str,
    event_id: str,
    event_time: datetime,
    waba_id: str,
    ctwa_clid: str,
    customer: CustomerInfo,
    value: Decimal | None,
    currency: str,
) -> dict:
    """One ``data[]`` object for ``POST /{dataset_id}/events`` (meta.md §4.3)."""
    user_data: dict = {"whatsapp_business_account_id": waba_id, "ctwa_clid": ctwa_clid}
    phone = _hashed_or_none(
        hashing.hash_phone_meta, customer.phone, country_code=customer.phone_country_code
    )
    if phone:
        user_data["ph"] = [phone]
    email = _hashed_or_none(hashing.hash_email, customer.email)
    if email:
        user_data["em"] = [email]
    external = _hashed_or_none(hashing.hash_external_id, customer.external_id)
    if external:
        user_data["external_id"] = [external]
    event = {
        "event_name": event_name,
        "event_time": int(event_time.timestamp()),
        "event_id": event_id,
        "action_source": "business_messaging",
        "messaging_channel": "whatsapp",
        "user_data": user_data,
    }
    if value is not None:
        event["custom_data"] = {"value": _amount(value), "currency": currency}
    return event


def tiktok_web_event(
    *,
    event_name: str,
    event_id: str,
    event_time: datetime,
    ttclid: str,
    customer: CustomerInfo,
    value: Decimal | None,
    currency: str,
) -> dict:
    """One ``data[]`` object for ``POST /event/track/`` with ``event_source=web`` (§5)."""
    user: dict = {"ttclid": ttclid}
    email = _hashed_or_none(hashing.hash_email, customer.email)
    if email:
        user["email"] = email
    phone = _hashed_or_none(
        hashing.hash_phone_tiktok, customer.phone, country_code=customer.phone_country_code
    )
    if phone:
        user["phone"] = phone
    external = _hashed_or_none(hashing.hash_external_id, customer.external_id)
    if external:
        user["external_id"] = external
    event = {
        "event": event_name,
        "event_time": int(event_time.timestamp()),
        "event_id": event_id,
        "user": user,
    }
    if value is not None:
        event["properties"] = {"value": _amount(value), "currency": currency}
    return event


def local_problem(*, platform: str, payload: dict) -> str:
    """Why the platform would refuse this event, found without calling it ("" if none).

    Such an event is failed on its own, so it never rejects a batch of good ones.
    """
    if platform == Platform.META:
        if payload.get("event_name") not in META_MESSAGING_EVENTS:
            return str(_("Business Messaging does not accept this event name."))
        user_data = payload.get("user_data") or {}
        if not user_data.get("whatsapp_business_account_id"):
            return str(_("The WhatsApp Business Account id is missing."))
        if not user_data.get("ctwa_clid"):
            return str(_("The click id (ctwa_clid) is missing."))
    elif platform == Platform.TIKTOK:
        name = payload.get("event")
        if not name:
            return str(_("The event name is missing."))
        if not (payload.get("user") or {}).get("ttclid"):
            return str(_("The click id (ttclid) is missing."))
    if not isinstance(payload.get("event_time"), int):
        return str(_("The event time is missing."))
    return ""
