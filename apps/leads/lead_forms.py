"""TikTok lead forms (Instant Forms) as tickets: one lead, one ticket, whatever the redeliveries.

The TikTok Ads app verifies a lead webhook and re-fetches the lead by id,
then hands it here as a :class:`LeadFormLead`. A lead is recorded as the
inbound message of a ticket on channel ``tiktok_lead_form`` through
:func:`~apps.leads.services.message_received`, so it is deduplicated by lead
id the way every message is (unique per tenant, channel and provider id): a
redelivery, a replay or a second worker finds the ticket the first one made
and updates its attribution instead of opening another.

The attribution comes with the lead (campaign, ad group and ad ids and names,
the advertiser, the ``ttclid`` when the form captured one): the tracking is
written complete, and no enrichment lookup is needed.

The contact is keyed on the lead (``user_id`` ``tiktok_lead:<id>``): a phone
typed in a form is not a verified WhatsApp id, so it is not used to merge
contacts. The answers are the message text, for the people working the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.tenants.models import Tenant

from .inbound import InboundMessage, Referral
from .models import Channel, Ticket, TicketTracking

PLATFORM = "tiktok"


@dataclass(frozen=True)
class LeadFormLead:
    lead_id: str
    advertiser_id: str
    created_at: datetime
    advertiser_name: str = ""
    campaign_id: str = ""
    campaign_name: str = ""
    adgroup_id: str = ""
    adgroup_name: str = ""
    ad_id: str = ""
    ad_name: str = ""
    page_id: str = ""
    ttclid: str = ""
    contact_name: str = ""
    #: the form's answers, label -> value, as the person typed them
    answers: dict[str, str] = field(default_factory=dict)


def _text(lead: LeadFormLead) -> str:
    return "\n".join(f"{label}: {value}" for label, value in lead.answers.items())


def lead_form_received(*, tenant: Tenant, lead: LeadFormLead) -> Ticket:
    """The lead's ticket, created on first delivery; its attribution refreshed on every one."""
    from .services import message_received

    referral = (
        Referral(ad_id=lead.ad_id, platform=PLATFORM, source_type="ad") if lead.ad_id else None
    )
    message = InboundMessage(
        channel=Channel.TIKTOK_LEAD_FORM,
        provider_message_id=lead.lead_id,
        sent_at=lead.created_at,
        user_id=f"tiktok_lead:{lead.lead_id}",
        contact_name=lead.contact_name[:255],
        text=_text(lead),
        account_ref=lead.advertiser_id,
        referral=referral,
    )
    with transaction.atomic():
        ticket = message_received(tenant=tenant, message=message)
        if lead.ad_id:
            _attribution_from_lead(ticket, lead)
    return ticket


def _attribution_from_lead(ticket: Ticket, lead: LeadFormLead) -> None:
    """The ids and names TikTok sent with the lead: complete, nothing left to enrich."""
    now = timezone.now()
    TicketTracking.objects.filter(ticket=ticket, platform=PLATFORM, ad_id=lead.ad_id).update(
        campaign_id=lead.campaign_id[:64],
        campaign_name=lead.campaign_name[:512],
        adset_id=lead.adgroup_id[:64],
        adset_name=lead.adgroup_name[:512],
        ad_name=lead.ad_name[:512],
        account_id=lead.advertiser_id[:64],
        account_name=lead.advertiser_name[:512],
        ttclid=lead.ttclid[:512],
        enrichment_status=TicketTracking.Enrichment.COMPLETED,
        enrichment_error="",
        enrichment_next_attempt_at=None,
        enriched_ad_id=lead.ad_id[:64],
        enriched_at=now,
        updated_at=now,
    )
