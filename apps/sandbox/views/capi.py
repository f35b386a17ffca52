"""Meta Conversions API and TikTok Events API 2.0 (contracts meta.md §3-4, tiktok-ads.md §5).

**Meta** ``POST /{version}/{pixel_or_dataset_id}/events``: the user token and
``appsecret_proof`` as for every Graph call; a JSON body (or a form whose
``data`` field is JSON) with ``data`` (1-1,000 events), ``partner_agent`` and
an optional ``test_event_code``. One invalid event rejects the whole request
and nothing is processed (contract §3.1), with Meta's envelope, code 100 and,
where the contract names it, the subcode: 2804003 "Event Timestamp Too Old"
(older than 7 days), 2804066 "Messaging Event Invalid Event Type" (a name
Business Messaging does not accept), 2804116 (neither
``whatsapp_business_account_id`` nor ``page_id``). Success:
``{"events_received": n, "messages": [], "fbtrace_id": "..."}``.

**TikTok** ``POST /open_api/v1.3/event/track/``: ``Access-Token`` header as
for the Marketing API; ``event_source`` (web, app, offline, crm),
``event_source_id``, ``data`` (1-1,000 events; more and the whole request is
refused). Errors inside HTTP 200: 40002 for a bad parameter, naming the
field (``data[3].event_time``), 40104/40105 for the token. Success: code 0.

Both fail on demand through :mod:`apps.sandbox.faults` (``provider="meta"``,
``path_contains="/events"``; ``provider="tiktok_ads"``,
``path_contains="event/track"``). Accepted events are counted per event id in
the cache (:func:`accepted_count`), so a test or a demo can check that every
event arrived exactly once.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from .. import generator
from ..api import provider_api
from ..envelopes import graph_error, tiktok
from ..models import Provider
from .meta import _user
from .tiktok_ads import _authenticate, _check_advertiser, data_endpoint

META = Provider.META.value
ADS = Provider.TIKTOK_ADS.value

MAX_EVENTS = 1000
#: meta.md §3.1: an event_time older than 7 days fails the whole request.
META_MAX_AGE_SECONDS = 7 * 24 * 3600
#: meta.md §0.1 / §4.4
MESSAGING_EVENTS = frozenset(
    {
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
    }
)
#: meta.md §3.2 (PYSDK action_source.py)
ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
TIKTOK_SOURCES = ("web", "app", "offline", "crm")
_LEDGER_TTL = 3600


class _Refused(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


# --- accepted events ledger (for tests and the demo) ---------------------------------------


def _ledger_key(platform: str, event_id: str) -> str:
    return f"sandbox:capi:{platform}:{event_id}"


def _record_accepted(platform: str, events: list[dict], id_key: str) -> None:
    for event in events:
        event_id = str(event.get(id_key) or "")
        if event_id:
            key = _ledger_key(platform, event_id)
            if not cache.add(key, 1, _LEDGER_TTL):
                cache.incr(key)


def accepted_count(platform: str, event_id: str) -> int:
    """How many accepted requests carried this event id (``platform``: "meta" or "tiktok")."""
    return cache.get(_ledger_key(platform, event_id), 0)


# --- Meta ----------------------------------------------------------------------------------


def _meta_body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise _Refused(
                graph_error("(#100) The request body is not valid JSON", code=100)
            ) from None
        if not isinstance(body, dict):
            raise _Refused(graph_error("(#100) The request body must be an object", code=100))
        return body
    body: dict[str, Any] = dict(request.POST.items())
    if "data" in body:
        try:
            body["data"] = json.loads(body["data"])
        except ValueError:
            raise _Refused(graph_error("(#100) Param data must be an array", code=100)) from None
    return body


def _meta_invalid(message: str, *, subcode: int | None = None, title: str = "") -> _Refused:
    response = graph_error(message, code=100, subcode=subcode)
    if title:
        body = json.loads(response.content)
        body["error"]["error_user_title"] = title
        body["error"]["error_user_msg"] = message
        response = JsonResponse(body, status=400)
    return _Refused(response)


def _check_meta_event(event: Any, now: int) -> None:
    if not isinstance(event, dict):
        raise _meta_invalid("(#100) Each element of data must be an object")
    if not event.get("event_name"):
        raise _meta_invalid("(#100) The parameter event_name is required")
    event_time = event.get("event_time")
    if not isinstance(event_time, int) or isinstance(event_time, bool):
        raise _meta_invalid("(#100) The parameter event_time is required and must be an integer")
    if now - event_time > META_MAX_AGE_SECONDS:
        raise _meta_invalid(
            "The timestamp for this event is older than 7 days. Events must be sent within "
            "7 days of when they occurred.",
            subcode=2804003,
            title="Event Timestamp Too Old",
        )
    user_data = event.get("user_data")
    if not isinstance(user_data, dict) or not user_data:
        raise _meta_invalid("(#100) The parameter user_data is required")
    action_source = event.get("action_source")
    if action_source not in ACTION_SOURCES:
        raise _meta_invalid(
            "(#100) Param action_source must be one of " + ", ".join(sorted(ACTION_SOURCES))
        )
    if action_source == "business_messaging":
        _check_messaging_event(event, user_data)


def _check_messaging_event(event: dict, user_data: dict) -> None:
    if event["event_name"] not in MESSAGING_EVENTS:
        raise _meta_invalid(
            f"{event['event_name']} is not a supported event for business messaging.",
            subcode=2804066,
            title="Messaging Event Invalid Event Type",
        )
    if not event.get("messaging_channel"):
        raise _meta_invalid(
            "(#100) messaging_channel is required when action_source is business_messaging"
        )
    if not (user_data.get("whatsapp_business_account_id") or user_data.get("page_id")):
        raise _meta_invalid(
            "whatsapp_business_account_id or page_id is required in user_data for business "
            "messaging events.",
            subcode=2804116,
            title="Missing Business Messaging Identifier",
        )


@provider_api(META)
@require_POST
def meta_events(request: HttpRequest, version: str, object_id: str) -> HttpResponse:
    """``POST /{id}/events``: validate every event, then accept them all or none."""
    _grant, error = _user(request)
    if error is not None:
        return error
    try:
        body = _meta_body(request)
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise _meta_invalid("(#100) Param data must be an array")
        if len(data) > MAX_EVENTS:
            raise _meta_invalid(f"(#100) Param data must have at most {MAX_EVENTS} elements")
        now = int(time.time())
        for event in data:
            _check_meta_event(event, now)
    except _Refused as refused:
        return refused.response
    _record_accepted("meta", data, "event_id")
    trace = "A" + secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")
    return JsonResponse({"events_received": len(data), "messages": [], "fbtrace_id": trace})


# --- TikTok --------------------------------------------------------------------------------


def _tiktok_refuse(message: str) -> _Refused:
    return _Refused(tiktok(40002, message))


def _check_tiktok_event(index: int, event: Any) -> None:
    where = f"data[{index}]"
    if not isinstance(event, dict):
        raise _tiktok_refuse(f"{where}: Not a valid object.")
    if not isinstance(event.get("event"), str) or not event["event"]:
        raise _tiktok_refuse(f"{where}.event: Missing data for required field.")
    event_time = event.get("event_time")
    if not isinstance(event_time, int) or isinstance(event_time, bool):
        raise _tiktok_refuse(f"{where}.event_time: Not a valid integer (Unix seconds).")
    user = event.get("user", {})
    if not isinstance(user, dict):
        raise _tiktok_refuse(f"{where}.user: Not a valid object.")
    for key in ("email", "phone", "external_id"):
        value = user.get(key)
        values = value if isinstance(value, list) else [value] if value else []
        for item in values:
            if not (isinstance(item, str) and len(item) == 64):
                raise _tiktok_refuse(f"{where}.user.{key}: Must be a SHA-256 hash.")


@provider_api(ADS)
@require_POST
def tiktok_event_track(request: HttpRequest) -> HttpResponse:
    """``POST event/track/``: the whole request is accepted or refused (code 40002)."""
    _grant, error = _authenticate(request)
    if error is not None:
        return error
    try:
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise _tiktok_refuse("Invalid JSON in the request body.") from None
        if not isinstance(body, dict):
            raise _tiktok_refuse("The request body must be a JSON object.")
        if body.get("event_source") not in TIKTOK_SOURCES:
            raise _tiktok_refuse("event_source: Must be one of: " + ", ".join(TIKTOK_SOURCES) + ".")
        if not body.get("event_source_id"):
            raise _tiktok_refuse("event_source_id: Missing data for required field.")
        data = body.get("data")
        if not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS:
            raise _tiktok_refuse(f"data: Length must be between 1 and {MAX_EVENTS}.")
        for index, event in enumerate(data):
            _check_tiktok_event(index, event)
    except _Refused as refused:
        return refused.response
    _record_accepted("tiktok", data, "event_id")
    return tiktok(data={})


# --- TikTok lead forms: one lead by id --------------------------------------------------------

_FIRST_NAMES = ("Ana", "Bruno", "Carla", "Diego", "Elisa", "Felipe", "Gabriela", "Hugo")
_LAST_NAMES = ("Silva", "Souza", "Costa", "Oliveira", "Pereira", "Lima")


def sandbox_lead(advertiser_id: str, lead_id: str) -> dict:
    """The lead ``lead_id`` of an advertiser, generated from both ids (the same every call).

    Its ad is one of the advertiser's generated ads; a lead id ending in an odd
    digit carries a ``ttclid`` (hidden form field), an even one does not.
    """
    r = generator.rng("tiktok-lead", advertiser_id, lead_id)
    ads = generator.ads(advertiser_id)
    ad = ads[r.randrange(len(ads))] if ads else {}
    first, last = r.choice(_FIRST_NAMES), r.choice(_LAST_NAMES)
    lead_data = {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{r.randrange(100)}@example.com",
        "phone_number": "+55119" + "".join(str(r.randrange(10)) for _ in range(8)),
    }
    if lead_id[-1:].isdigit() and int(lead_id[-1]) % 2:
        lead_data["ttclid"] = "E.C.P." + "".join(
            r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(40)
        )
    meta_data = {
        "lead_source": "INSTANT_FORM",
        "lead_id": lead_id,
        "advertiser_id": advertiser_id,
        "page_id": "7" + lead_id[-12:].rjust(12, "0"),
        "campaign_id": ad.get("campaign_id", ""),
        "campaign_name": ad.get("campaign_name", ""),
        "adgroup_id": ad.get("adgroup_id", ""),
        "adgroup_name": ad.get("adgroup_name", ""),
        "ad_id": ad.get("ad_id", ""),
        "ad_name": ad.get("ad_name", ""),
        "create_time": int(generator.now().timestamp()) - r.randrange(3600),
    }
    return {"lead_data": lead_data, "meta_data": meta_data}


@data_endpoint
def tiktok_lead_get(request: HttpRequest, grant) -> HttpResponse:
    """``lead/get/?advertiser_id&lead_id&lead_source``: one lead of an advertiser the token reaches."""
    advertiser_id = _check_advertiser(grant, request.GET.get("advertiser_id"))
    lead_id = request.GET.get("lead_id", "")
    if not lead_id.isdigit():
        return tiktok(40002, "lead_id: Missing data for required field.")
    if request.GET.get("lead_source", "INSTANT_FORM") not in ("INSTANT_FORM", "DIRECT_MESSAGE"):
        return tiktok(40002, "lead_source: Must be one of: INSTANT_FORM, DIRECT_MESSAGE.")
    return tiktok(data=sandbox_lead(advertiser_id, lead_id))
