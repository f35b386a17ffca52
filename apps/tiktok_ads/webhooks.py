"""TikTok lead forms: ``POST /webhooks/tiktok-ads/<tenant's token>/``, verified, stored once, handled.

The lead subscription (contract tiktok-ads.md §2.5) is delivered at least once,
and **no public documentation confirms how its callbacks are signed**. So:

**Verify.** The URL carries a per-tenant unguessable token (shown on the
Conversions tab, rotatable); an unknown or missing token is refused (401)
and nothing is stored. When a ``TikTok-Signature`` header is present it must
be valid: ``t=<unix>,s=<hex>`` with ``s = HMAC-SHA256(app secret, "<t>." +
raw body)`` (the TikTok-for-Developers scheme), at most
:data:`SIGNATURE_MAX_AGE` old, compared in constant time. A delivery without
the header is accepted on the strength of the URL token alone, because...

**Re-fetch.** ...nothing in a delivery is trusted: the handler reads the lead
again by id with the tenant's own token (``lead/get/``), checks it belongs to
one of the tenant's advertisers, and records what TikTok answered.

**Split.** ``object`` 1 is a lead; each ``entry`` is one event whose id is
``lead:<lead id>`` (stable across redeliveries, so a lead is stored once).
Only the ids are kept in the inbox: the form's answers (name, e-mail, phone)
never reach it, they come with the re-fetch. Other objects (ad reviews,
report changes...) are stored as ``object_<n>`` and marked ignored.

**Handle.** :func:`on_lead` creates or updates the lead's ticket through
:func:`apps.leads.lead_forms.lead_form_received` (channel ``tiktok_lead_form``,
campaign / ad group / ad ids, ``ttclid``), deduplicated by lead id. Log lines
show the lead's e-mail and phone masked, never whole.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from apps.capi.hashing import mask
from apps.capi.services import tenant_for_route_token
from apps.webhooks.models import WebhookEvent
from apps.webhooks.registry import (
    IncomingEvent,
    InvalidPayload,
    UnknownAccount,
    WebhookSource,
    json_body,
    webhooks,
)

from .models import TikTokAdsConnection, TikTokAdvertiser

logger = logging.getLogger(__name__)

SOURCE_KEY = "tiktok-ads"
SIGNATURE_HEADER = "TikTok-Signature"
#: A signed delivery older than this is refused (replays of a captured body).
SIGNATURE_MAX_AGE = 10 * 60
LEAD_OBJECT = 1
LEAD_EVENT = "lead"
#: Entry keys kept in the inbox: ids and names, never the answers.
KEPT_KEYS = (
    "id",
    "lead_source",
    "page_id",
    "page_name",
    "advertiser_id",
    "advertiser_name",
    "library_id",
    "campaign_id",
    "campaign_name",
    "adgroup_id",
    "adgroup_name",
    "ad_id",
    "ad_name",
    "create_time",
)
#: Answer labels (lowercased) that hold the contact's name, e-mail, phone, click id.
NAME_FIELDS = ("name", "full_name", "full name", "first_name")
EMAIL_FIELDS = ("email", "e-mail", "email_address")
PHONE_FIELDS = ("phone", "phone_number", "phone number", "mobile")
TTCLID_FIELDS = ("ttclid",)


# --- the source ------------------------------------------------------------------------------


def signature_valid(*, header: str, body: bytes, secret: str, now: float | None = None) -> bool:
    """``t=<unix>,s=<hex>``; ``s`` = HMAC-SHA256(secret, ``"<t>." + body``), fresh, constant time."""
    parts = dict(item.strip().split("=", 1) for item in header.split(",") if "=" in item)
    stamp, given = parts.get("t", ""), parts.get("s", "")
    if not (stamp.isascii() and stamp.isdigit()) or not given or not secret:
        return False
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > SIGNATURE_MAX_AGE:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters (a TypeError).
    return hmac.compare_digest(expected.encode(), given.lower().encode())


def verify(request: HttpRequest, body: bytes) -> bool:
    route_key = (request.resolver_match.kwargs if request.resolver_match else {}).get(
        "route_key", ""
    )
    if tenant_for_route_token(route_key) is None:
        return False
    header = request.headers.get(SIGNATURE_HEADER, "")
    if header:
        return signature_valid(header=header, body=body, secret=settings.TIKTOK_APP_SECRET)
    return True


def _moment(value: Any) -> datetime | None:
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None
    except (ValueError, OverflowError, OSError):  # beyond year 9999: not a real moment
        return None


def split(body: bytes) -> list[IncomingEvent]:
    delivery = json_body(body)
    if not isinstance(delivery, dict) or not isinstance(delivery.get("entry"), list):
        raise InvalidPayload("expected an object with an entry list")
    kind = delivery.get("object")
    events = []
    for index, entry in enumerate(delivery["entry"]):
        if not isinstance(entry, dict):
            raise InvalidPayload("each entry must be an object")
        if kind == LEAD_OBJECT:
            lead_id = str(entry.get("id") or "").strip()
            if not lead_id:
                raise InvalidPayload("a lead entry without an id")
            kept = {key: entry[key] for key in KEPT_KEYS if key in entry}
            events.append(
                IncomingEvent(
                    event_id=f"lead:{lead_id}",
                    event_type=LEAD_EVENT,
                    payload=kept,
                    occurred_at=_moment(entry.get("create_time")),
                )
            )
        else:
            digest = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()
            events.append(
                IncomingEvent(
                    event_id=f"object_{kind}:{delivery.get('request_id') or digest}:{index}",
                    event_type=f"object_{kind}",
                    payload={"object": kind},
                )
            )
    return events


webhooks.register_source(
    WebhookSource(
        key=SOURCE_KEY,
        label=gettext_lazy("TikTok Ads (lead forms)"),
        verify=verify,
        split=split,
        routed=True,
    )
)
webhooks.register_handler(SOURCE_KEY, LEAD_EVENT, "apps.tiktok_ads.webhooks.on_lead")


# --- the handler -----------------------------------------------------------------------------


def _answers(lead_data: Any) -> dict[str, str]:
    """``lead_data`` as label -> value: a mapping, or a list of ``{field_key|name, field_value|value}``."""
    if isinstance(lead_data, dict):
        return {str(k): str(v) for k, v in lead_data.items() if v not in (None, "")}
    answers = {}
    for item in lead_data or []:
        if isinstance(item, dict):
            label = item.get("field_key") or item.get("name") or item.get("field") or ""
            value = item.get("field_value", item.get("value", ""))
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            if label and value not in (None, ""):
                answers[str(label)] = str(value)
    return answers


def _pick(answers: dict[str, str], names: tuple[str, ...]) -> str:
    lowered = {label.strip().lower(): value for label, value in answers.items()}
    return next((lowered[name] for name in names if lowered.get(name)), "")


def _lead_of(tenant, connection: TikTokAdsConnection, event: WebhookEvent):
    from apps.leads.lead_forms import LeadFormLead

    from .services import client_for

    notified = event.payload
    lead_id = str(notified.get("id") or "")
    advertiser_id = str(notified.get("advertiser_id") or "")
    if not TikTokAdvertiser.objects.for_tenant(tenant).filter(advertiser_id=advertiser_id).exists():
        raise UnknownAccount(f"advertiser {advertiser_id or '?'} is not connected for this tenant")
    with client_for(connection) as client:
        fetched = client.lead(advertiser_id=advertiser_id, lead_id=lead_id)
    meta = fetched.get("meta_data") or {}
    if str(meta.get("lead_id") or lead_id) != lead_id:
        raise ValueError("TikTok answered with another lead")
    answers = _answers(fetched.get("lead_data"))
    return LeadFormLead(
        lead_id=lead_id,
        advertiser_id=str(meta.get("advertiser_id") or advertiser_id),
        advertiser_name=str(notified.get("advertiser_name") or ""),
        created_at=_moment(meta.get("create_time") or notified.get("create_time"))
        or event.received_at,
        campaign_id=str(meta.get("campaign_id") or ""),
        campaign_name=str(meta.get("campaign_name") or ""),
        adgroup_id=str(meta.get("adgroup_id") or ""),
        adgroup_name=str(meta.get("adgroup_name") or ""),
        ad_id=str(meta.get("ad_id") or ""),
        ad_name=str(meta.get("ad_name") or ""),
        page_id=str(meta.get("page_id") or ""),
        ttclid=str(meta.get("ttclid") or _pick(answers, TTCLID_FIELDS)),
        contact_name=_pick(answers, NAME_FIELDS),
        answers=answers,
    )


def on_lead(event: WebhookEvent) -> None:
    """Re-fetch the lead with the tenant's token, then create or update its ticket."""
    from apps.leads.lead_forms import lead_form_received

    tenant = tenant_for_route_token(event.account_ref)
    if tenant is None:
        raise UnknownAccount("the lead webhook URL was replaced")
    event.tenant = tenant
    connection = TikTokAdsConnection.objects.for_tenant(tenant).live().first()
    if connection is None:
        raise UnknownAccount("TikTok Ads is not connected for this tenant")
    lead = _lead_of(tenant, connection, event)
    ticket = lead_form_received(tenant=tenant, lead=lead)
    logger.info(
        "tiktok lead %s tenant %s -> ticket %s (name %s, email %s, phone %s, ttclid %s)",
        lead.lead_id,
        tenant.pk,
        ticket.pk,
        mask(lead.contact_name),
        mask(_pick(lead.answers, EMAIL_FIELDS)),
        mask(_pick(lead.answers, PHONE_FIELDS)),
        "yes" if lead.ttclid else "no",
    )
