"""Tickets from inbound messages, last-touch attribution, enrichment and expiry.

Channel apps call :func:`message_received` and :func:`message_status_changed`
with normalised data (:mod:`apps.leads.inbound`); leads never parses a
provider payload. The rules:

- **Once per message**: a provider message id is recorded once per tenant and
  channel; a redelivery returns the ticket it already landed on.
- **Contacts** are matched on ``wa_id`` or on the business-scoped ``user_id``;
  a match fills the identifier it lacked.
- **Tickets**: a contact has at most one open ticket per channel. A message to
  a contact with none opens one; an open ticket whose last message is older
  than the tenant's expiration (compared with the new message's time) is
  closed as ``expired`` and a new one opened.
- **Last touch**: a referral writes the ticket's :class:`TicketTracking`. A
  referral to another ad on the same open ticket replaces the attribution
  (click ids included: they belong to the touch) and appends an
  :class:`AttributionChange`; a referral older than the current touch
  changes nothing; a plain message changes nothing. A changed ad id queues
  enrichment after commit.
- **Enrichment** asks the enricher the ad platform registered
  (:mod:`apps.leads.enrichment`) and writes its answer with one conditional
  UPDATE on the ad id it asked about, so a late answer never overwrites a
  newer touch. Transient errors are retried with backoff by
  :func:`enrichment_sweep`; :class:`EnrichmentUnavailable` fails at once.

Logs name tickets and contacts by primary key only: phone numbers, user ids,
names and message text are PII and never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.redaction import redact_text
from apps.integrations.scheduling import enqueue
from apps.tenants.models import Tenant

from .enrichment import AdDetails, EnrichmentUnavailable, enrichers
from .inbound import InboundMessage, Referral
from .models import (
    DEFAULT_CURRENCY,
    DEFAULT_EXPIRATION_DAYS,
    AttributionChange,
    Channel,
    Contact,
    LeadSettings,
    Message,
    Ticket,
    TicketTracking,
)

logger = logging.getLogger(__name__)

ENRICH_TASK = "apps.leads.tasks.enrich_tracking"
#: A queued enrichment that has not run after this long is queued again by the
#: sweep (the queue lost it, or the worker died while calling the platform).
ENRICHMENT_LEASE = timedelta(minutes=10)
#: Transient failures are retried this many times in all before the tracking
#: is marked failed (about 2 hours with the backoff below).
ENRICHMENT_MAX_ATTEMPTS = 7
#: First retry after one minute, doubling up to this cap.
ENRICHMENT_BACKOFF_CAP = timedelta(hours=1)
#: Another ticket's answer for the same ad, this fresh, is reused instead of
#: calling the platform again (a popular ad brings many tickets at once).
ENRICHMENT_REUSE_WINDOW = timedelta(hours=1)
#: How many due enrichments one sweep queues.
ENRICHMENT_SWEEP_BATCH = 500
#: Referrals whose ``source_type`` says the id is an ad; a ``post`` id is not.
AD_SOURCE_TYPES = frozenset({"ad", ""})

Enrichment = TicketTracking.Enrichment


# --- settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveSettings:
    ticket_expiration_days: int = DEFAULT_EXPIRATION_DAYS
    default_currency: str = DEFAULT_CURRENCY


def lead_settings_for(tenant: Tenant) -> EffectiveSettings:
    """The tenant's choices, or the defaults when an admin never saved any (1 query)."""
    row = LeadSettings.objects.filter(tenant=tenant).first()
    if row is None:
        return EffectiveSettings()
    return EffectiveSettings(row.ticket_expiration_days, row.default_currency)


def lead_settings_save(
    *, tenant: Tenant, user, ticket_expiration_days: int, default_currency: str
) -> LeadSettings:
    row, _created = LeadSettings.objects.update_or_create(
        tenant=tenant,
        defaults={
            "ticket_expiration_days": ticket_expiration_days,
            "default_currency": default_currency,
            "updated_by": user if user is not None and user.is_authenticated else None,
        },
    )
    return row


# --- inbound messages -------------------------------------------------------------


def message_received(*, tenant: Tenant, message: InboundMessage) -> Ticket:
    """Record one inbound message on the contact's open ticket (opening one if needed).

    Idempotent: a message id already recorded returns its ticket and changes
    nothing. Two workers racing on one contact are resolved by the unique
    constraints: the loser's work rolls back and it reads the winner's rows.
    """
    _check_inbound(message)
    try:
        with transaction.atomic():
            return _message_record(tenant, message)
    except IntegrityError:
        logger.info(
            "leads: concurrent delivery for tenant %s, reading the winner's rows", tenant.pk
        )
        with transaction.atomic():
            return _message_record(tenant, message)


def _check_inbound(message: InboundMessage) -> None:
    if message.channel not in Channel.values:
        raise ValueError(f"unknown channel {message.channel!r}")
    if not message.provider_message_id:
        raise ValueError("an inbound message needs its provider message id")
    if not (message.wa_id or message.user_id):
        raise ValueError("an inbound message needs a wa_id or a user_id")


def _message_record(tenant: Tenant, message: InboundMessage) -> Ticket:
    existing = (
        Message.objects.for_tenant(tenant)
        .filter(channel=message.channel, provider_message_id=message.provider_message_id)
        .select_related("ticket")
        .first()
    )
    if existing is not None:
        return existing.ticket
    contact = contact_match(
        tenant=tenant, wa_id=message.wa_id, user_id=message.user_id, name=message.contact_name
    )
    ticket = _open_ticket_for(tenant=tenant, contact=contact, message=message)
    row = Message.objects.create(
        tenant=tenant,
        ticket=ticket,
        channel=message.channel,
        direction=Message.Direction.IN,
        provider_message_id=message.provider_message_id,
        text=message.text,
        sent_at=message.sent_at,
        delivery_state=Message.Delivery.RECEIVED,
        referral=_referral_dict(message.referral),
    )
    if message.sent_at > ticket.last_message_at:
        Ticket.objects.filter(pk=ticket.pk).update(last_message_at=message.sent_at)
        ticket.last_message_at = message.sent_at
    if message.referral is not None and message.referral.ad_id:
        attribution_touch(ticket=ticket, referral=message.referral, message=row)
    return ticket


def _referral_dict(referral: Referral | None) -> dict:
    if referral is None:
        return {}
    return {key: value for key, value in vars(referral).items() if value}


def contact_match(*, tenant: Tenant, wa_id: str, user_id: str, name: str = "") -> Contact:
    """The tenant's contact with this ``wa_id`` or ``user_id``; created if none.

    A match fills the identifier it lacked and takes the newest profile name.
    When the two ids match two different contacts, the ``user_id`` one wins
    (it is stable; a phone number can change hands) and nothing is merged.
    """
    name = name[:255]
    lookup = Q()
    if wa_id:
        lookup |= Q(wa_id=wa_id)
    if user_id:
        lookup |= Q(user_id=user_id)
    found = list(Contact.objects.for_tenant(tenant).filter(lookup)[:2])
    if not found:
        return Contact.objects.create(tenant=tenant, wa_id=wa_id, user_id=user_id, name=name)
    if len(found) == 2:
        logger.warning(
            "leads: contacts %s and %s match one sender; using the user id match",
            found[0].pk,
            found[1].pk,
        )
    contact = next((c for c in found if user_id and c.user_id == user_id), found[0])
    changes = {}
    if wa_id and not contact.wa_id and len(found) == 1:
        changes["wa_id"] = wa_id
    if user_id and not contact.user_id:
        changes["user_id"] = user_id
    if name and name != contact.name:
        changes["name"] = name
    if changes:
        Contact.objects.filter(pk=contact.pk).update(**changes, updated_at=timezone.now())
        for field, value in changes.items():
            setattr(contact, field, value)
    return contact


def _open_ticket_for(*, tenant: Tenant, contact: Contact, message: InboundMessage) -> Ticket:
    """The contact's open ticket on this channel, or a new one (closing an expired one first)."""
    ticket = (
        Ticket.objects.for_tenant(tenant)
        .select_for_update()
        .filter(contact=contact, channel=message.channel, status=Ticket.Status.OPEN)
        .first()
    )
    if ticket is not None and _has_expired(ticket, at=message.sent_at, tenant=tenant):
        Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.OPEN).update(
            status=Ticket.Status.EXPIRED, closed_at=timezone.now()
        )
        logger.info("leads: ticket %s expired, opening a new one", ticket.pk)
        ticket = None
    if ticket is None:
        ticket = Ticket.objects.create(
            tenant=tenant,
            contact=contact,
            channel=message.channel,
            account_ref=message.account_ref,
            last_message_at=message.sent_at,
            opened_at=message.sent_at,
        )
    return ticket


def _has_expired(ticket: Ticket, *, at: datetime, tenant: Tenant) -> bool:
    days = lead_settings_for(tenant).ticket_expiration_days
    return at - ticket.last_message_at > timedelta(days=days)


# --- attribution (last touch) --------------------------------------------------------


_TOUCH_FIELDS = (
    "source_type",
    "media_type",
    "headline",
    "body",
    "source_url",
    "ctwa_clid",
)


def _touch_values(referral: Referral) -> dict:
    values = {field: getattr(referral, field) or "" for field in _TOUCH_FIELDS}
    values["headline"] = values["headline"][:512]
    values["source_url"] = values["source_url"][:2048]
    values["ctwa_clid"] = values["ctwa_clid"][:512]
    return values


def attribution_touch(*, ticket: Ticket, referral: Referral, message: Message) -> TicketTracking:
    """Apply one referral to the ticket's tracking, last touch wins.

    The caller holds the ticket row (``select_for_update``), so touches of one
    ticket are applied one at a time.
    """
    at = message.sent_at
    tracking = TicketTracking.objects.filter(ticket=ticket).first()
    if tracking is None:
        tracking = TicketTracking.objects.create(
            tenant_id=ticket.tenant_id,
            ticket=ticket,
            platform=referral.platform,
            ad_id=referral.ad_id,
            attributed_at=at,
            **_touch_values(referral),
            **_enrichment_reset(referral),
        )
        _attribution_changed(ticket=ticket, tracking=tracking, from_ad_id="", message=message)
        return tracking
    if at < tracking.attributed_at:
        logger.info("leads: ticket %s got a touch older than its attribution; kept", ticket.pk)
        return tracking
    same_ad = tracking.ad_id == referral.ad_id and tracking.platform == referral.platform
    values = {**_touch_values(referral), "attributed_at": at}
    if not same_ad:
        values.update(
            platform=referral.platform, ad_id=referral.ad_id, **_enrichment_reset(referral)
        )
    TicketTracking.objects.filter(pk=tracking.pk).update(**values, updated_at=timezone.now())
    from_ad_id = tracking.ad_id
    for field, value in values.items():
        setattr(tracking, field, value)
    if not same_ad:
        _attribution_changed(
            ticket=ticket, tracking=tracking, from_ad_id=from_ad_id, message=message
        )
    return tracking


def _enrichment_reset(referral: Referral) -> dict:
    """Fields of a tracking whose ad just changed: the old names are gone, enrichment pending."""
    values = {
        "campaign_id": "",
        "campaign_name": "",
        "adset_id": "",
        "adset_name": "",
        "ad_name": "",
        "account_id": "",
        "account_name": "",
        "enriched_ad_id": "",
        "enriched_at": None,
        "enrichment_attempts": 0,
        "enrichment_status": Enrichment.PENDING,
        "enrichment_error": "",
        "enrichment_next_attempt_at": timezone.now() + ENRICHMENT_LEASE,
    }
    if referral.source_type not in AD_SOURCE_TYPES:
        values.update(
            enrichment_status=Enrichment.FAILED,
            enrichment_next_attempt_at=None,
            enrichment_error=_(
                "The referral came from a %(source)s, not an ad: there is no campaign to look up."
            )
            % {"source": referral.source_type},
        )
    return values


def _attribution_changed(
    *, ticket: Ticket, tracking: TicketTracking, from_ad_id: str, message: Message
) -> None:
    AttributionChange.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        platform=tracking.platform,
        from_ad_id=from_ad_id,
        to_ad_id=tracking.ad_id,
        message=message,
        at=message.sent_at,
    )
    if tracking.enrichment_status == Enrichment.PENDING:
        enqueue(ENRICH_TASK, tracking.pk, tracking.ad_id)


# --- delivery states -------------------------------------------------------------------

Delivery = Message.Delivery

#: Which states each status may replace: states only move forward
#: (sent < delivered < read); ``failed`` replaces only a message not yet delivered.
_DELIVERY_MAY_REPLACE: dict[str, tuple[str, ...]] = {
    Delivery.SENT: ("",),
    Delivery.DELIVERED: ("", Delivery.SENT),
    Delivery.READ: ("", Delivery.SENT, Delivery.DELIVERED),
    Delivery.FAILED: ("", Delivery.SENT),
}
#: Provider words that mean one of ours (WhatsApp's ``played``: a voice message heard).
_DELIVERY_ALIASES = {"played": Delivery.READ}


def message_status_changed(
    *,
    tenant: Tenant,
    provider_message_id: str,
    status: str,
    at: datetime,
    channel: str = Channel.WHATSAPP,
) -> None:
    """Move one of our outbound messages' delivery state forward (one conditional UPDATE).

    Statuses arrive out of order and more than once: an older or repeated one
    changes nothing. A status for a message we did not record (sent outside
    the hub) or an unknown status word is ignored.
    """
    state = _DELIVERY_ALIASES.get(status, status)
    replaceable = _DELIVERY_MAY_REPLACE.get(state)
    if replaceable is None:
        logger.info("leads: ignoring unknown delivery status %r", status[:32])
        return
    Message.objects.for_tenant(tenant).filter(
        channel=channel,
        provider_message_id=provider_message_id,
        direction=Message.Direction.OUT,
        delivery_state__in=replaceable,
    ).update(delivery_state=state, delivery_updated_at=at)


# --- enrichment ---------------------------------------------------------------------------


def enrichment_retry_delay(attempts: int) -> timedelta:
    """1 min, 2 min, 4 min, ... capped at one hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), ENRICHMENT_BACKOFF_CAP)


def tracking_enrich(*, tracking_id: int, ad_id: str) -> str:
    """Resolve ``ad_id`` of one tracking into names; returns the outcome.

    Outcomes: ``completed``; ``stale`` (the ticket moved to another ad, or the
    row is gone: nothing is written); ``retry`` (a transient error, queued
    again by the sweep after a backoff); ``failed`` (no retry can help, or
    attempts ran out; the reason is on the tracking).
    """
    tracking = TicketTracking.objects.select_related("tenant").filter(pk=tracking_id).first()
    if tracking is None or tracking.ad_id != ad_id:
        return "stale"
    if tracking.enrichment_status != Enrichment.PENDING:
        return tracking.enrichment_status
    reused = _recent_details(tracking)
    if reused is not None:
        return _enrichment_complete(tracking, reused)
    enricher = enrichers.get(tracking.platform)
    if enricher is None:
        reason = _("No connected app can look up %(platform)s ads.") % {
            "platform": tracking.platform
        }
        return _enrichment_fail(tracking, reason)
    attempt = tracking.enrichment_attempts + 1
    _tracking_for_ad(tracking).update(
        enrichment_attempts=attempt,
        enrichment_next_attempt_at=timezone.now() + ENRICHMENT_LEASE,
    )
    try:
        details = enricher(tracking.tenant, ad_id)
    except EnrichmentUnavailable as exc:
        return _enrichment_fail(tracking, str(exc))
    except Exception as exc:  # any other error is transient by the enrichers' contract
        return _enrichment_retry_later(tracking, attempt=attempt, error=exc)
    return _enrichment_complete(tracking, details)


def _tracking_for_ad(tracking: TicketTracking):
    """The tracking row, only while it still points at the ad being enriched."""
    return TicketTracking.objects.filter(
        pk=tracking.pk, ad_id=tracking.ad_id, platform=tracking.platform
    )


def _recent_details(tracking: TicketTracking) -> AdDetails | None:
    other = (
        TicketTracking.objects.for_tenant(tracking.tenant)
        .filter(
            platform=tracking.platform,
            enriched_ad_id=tracking.ad_id,
            enrichment_status=Enrichment.COMPLETED,
            enriched_at__gte=timezone.now() - ENRICHMENT_REUSE_WINDOW,
        )
        .exclude(pk=tracking.pk)
        .order_by("-enriched_at")
        .first()
    )
    if other is None:
        return None
    return AdDetails(
        ad_id=other.enriched_ad_id,
        ad_name=other.ad_name,
        adset_id=other.adset_id,
        adset_name=other.adset_name,
        campaign_id=other.campaign_id,
        campaign_name=other.campaign_name,
        account_id=other.account_id,
        account_name=other.account_name,
    )


def _enrichment_complete(tracking: TicketTracking, details: AdDetails) -> str:
    written = _tracking_for_ad(tracking).update(
        ad_name=details.ad_name[:512],
        adset_id=details.adset_id[:64],
        adset_name=details.adset_name[:512],
        campaign_id=details.campaign_id[:64],
        campaign_name=details.campaign_name[:512],
        account_id=details.account_id[:64],
        account_name=details.account_name[:512],
        enriched_ad_id=tracking.ad_id,
        enriched_at=timezone.now(),
        enrichment_status=Enrichment.COMPLETED,
        enrichment_error="",
        enrichment_next_attempt_at=None,
        updated_at=timezone.now(),
    )
    if not written:
        logger.info("leads: tracking %s moved to another ad; late enrichment dropped", tracking.pk)
        return "stale"
    return "completed"


def _enrichment_fail(tracking: TicketTracking, reason: str) -> str:
    written = _tracking_for_ad(tracking).update(
        enrichment_status=Enrichment.FAILED,
        enrichment_error=redact_text(reason)[:2000],
        enrichment_next_attempt_at=None,
        updated_at=timezone.now(),
    )
    return "failed" if written else "stale"


def _enrichment_retry_later(tracking: TicketTracking, *, attempt: int, error: Exception) -> str:
    message = redact_text(f"{type(error).__name__}: {error}")[:2000]
    if attempt >= ENRICHMENT_MAX_ATTEMPTS:
        reason = _("Gave up after %(attempts)d attempts. Last error: %(error)s") % {
            "attempts": attempt,
            "error": message,
        }
        return _enrichment_fail(tracking, reason)
    written = _tracking_for_ad(tracking).update(
        enrichment_error=message,
        enrichment_next_attempt_at=timezone.now() + enrichment_retry_delay(attempt),
        updated_at=timezone.now(),
    )
    logger.info(
        "leads: enrichment of tracking %s failed (attempt %s), retrying", tracking.pk, attempt
    )
    return "retry" if written else "stale"


def enrichment_sweep(*, now: datetime | None = None) -> int:
    """Queue the enrichments whose retry is due or whose task was lost; returns how many.

    Each queued row's next attempt moves one lease ahead first, so the next
    sweep does not queue it again while its task waits in the queue.
    """
    now = now or timezone.now()
    due = list(
        TicketTracking.objects.filter(
            enrichment_status=Enrichment.PENDING, enrichment_next_attempt_at__lte=now
        )
        .order_by("enrichment_next_attempt_at")
        .values_list("pk", "ad_id")[:ENRICHMENT_SWEEP_BATCH]
    )
    if not due:
        return 0
    TicketTracking.objects.filter(pk__in=[pk for pk, _ad in due]).update(
        enrichment_next_attempt_at=now + ENRICHMENT_LEASE
    )
    for pk, ad_id in due:
        enqueue(ENRICH_TASK, pk, ad_id)
    return len(due)


def tracking_enrich_again(*, trackings) -> int:
    """Staff asked for a new attempt: back to pending, queued now."""
    count = 0
    for tracking in trackings:
        TicketTracking.objects.filter(pk=tracking.pk).update(
            enrichment_status=Enrichment.PENDING,
            enrichment_error="",
            enrichment_attempts=0,
            enrichment_next_attempt_at=timezone.now() + ENRICHMENT_LEASE,
        )
        enqueue(ENRICH_TASK, tracking.pk, tracking.ad_id)
        count += 1
    return count


# --- expiry -----------------------------------------------------------------------------


def tickets_expire_due(*, now: datetime | None = None) -> int:
    """Close as expired every open ticket whose last message is older than its tenant's setting.

    One UPDATE per distinct expiration setting in use, plus one for the
    tenants on the default: the number of tickets does not matter.
    """
    now = now or timezone.now()
    open_tickets = Ticket.objects.filter(status=Ticket.Status.OPEN)
    by_days: dict[int, list[int]] = {}
    for tenant_id, days in LeadSettings.objects.values_list("tenant_id", "ticket_expiration_days"):
        by_days.setdefault(days, []).append(tenant_id)
    custom = [tenant_id for tenants in by_days.values() for tenant_id in tenants]
    expired = (
        open_tickets.exclude(tenant_id__in=custom)
        .filter(last_message_at__lt=now - timedelta(days=DEFAULT_EXPIRATION_DAYS))
        .update(status=Ticket.Status.EXPIRED, closed_at=now)
    )
    for days, tenant_ids in by_days.items():
        expired += open_tickets.filter(
            tenant_id__in=tenant_ids, last_message_at__lt=now - timedelta(days=days)
        ).update(status=Ticket.Status.EXPIRED, closed_at=now)
    if expired:
        logger.info("leads: %s tickets expired", expired)
    return expired
