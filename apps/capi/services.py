"""Conversions as rows: created when a ticket reaches a stage, resent, tested; the tenant's mapping.

A ticket moving to ``qualified`` or ``won`` (leads' ``ticket_stage_changed``,
and a sweep over leads' ``StageChange`` rows for moves whose signal was lost)
creates at most one :class:`~.models.ConversionEvent` per platform and stage:
its event id is deterministic (``lead-<ticket>``, ``purchase-<ticket>``) and
unique per tenant and platform, so moving a ticket to ``qualified`` twice
keeps one row and sends one event. The row is kept even when nothing can be
sent, with the reason as its status:

- ``skipped_no_click_id``: the ticket came from an ad but without the click id
  the platform attributes on (``ctwa_clid`` for Meta Business Messaging,
  ``ttclid`` for TikTok); nothing is called;
- ``skipped_no_destination``: tracking is off on the attributed ad account, or
  no pixel / dataset is chosen;
- ``skipped_duplicate``: another ticket already reported the same click as the
  same event to the same destination (Meta does not deduplicate Business
  Messaging events: contract meta.md §4.5).

Only tickets attributed to an ad platform (leads' ``TicketTracking``) convert;
the platform is the one of the last touch.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.http import ProviderError
from apps.integrations.redaction import redact_text
from apps.leads.models import Channel, StageChange, Ticket, TicketTracking
from apps.tenants.models import Tenant

from . import hashing, platforms
from .models import (
    ConversionDestination,
    ConversionEvent,
    ConversionMapping,
    DeliveryAttempt,
    LeadFormEndpoint,
    Platform,
    new_route_token,
)
from .registry import Target, TicketFacts, conversion_platforms

logger = logging.getLogger(__name__)

Status = ConversionEvent.Status
DISPATCH_TASK = "apps.capi.tasks.dispatch"
#: Stages that convert; others (new, lost) send nothing.
CONVERTING_STAGES = ("qualified", "won")
#: TicketTracking.platform -> our platform
TRACKING_PLATFORMS = {"meta": Platform.META, "tiktok": Platform.TIKTOK}


# --- mapping -----------------------------------------------------------------------------


def mapping_for(tenant: Tenant) -> ConversionMapping:
    """The tenant's mapping, or the defaults (unsaved) when no admin changed it."""
    return ConversionMapping.objects.filter(tenant=tenant).first() or ConversionMapping(
        tenant=tenant
    )


class MappingError(ValueError):
    """A choice the platform does not accept; ``str()`` is for the person."""


def mapping_save(*, tenant: Tenant, values: dict[str, str]) -> ConversionMapping:
    """Save the tenant's choices; each must be one the platform accepts (or "" for none)."""
    mapping = mapping_for(tenant)
    for platform in Platform.values:
        for stage in CONVERTING_STAGES:
            field = f"{platform}_{stage}"
            value = (values.get(field) or "").strip()
            allowed = {name for name, _label in platforms.STAGE_EVENT_CHOICES[(platform, stage)]}
            if value and value not in allowed:
                raise MappingError(_("%(event)s cannot be sent for this stage.") % {"event": value})
            setattr(mapping, field, value)
    target = values.get("meta_target") or ConversionMapping.MetaTarget.WABA_DATASET
    if target not in ConversionMapping.MetaTarget.values:
        raise MappingError(_("Unknown Meta destination."))
    mapping.meta_target = target
    mapping.save()
    return mapping


# --- triggers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Decision:
    status: str
    reason: str = ""
    target: Target | None = None


def _facts(ticket: Ticket, tracking: TicketTracking) -> TicketFacts:
    return TicketFacts(
        tenant=ticket.tenant,
        ticket_id=ticket.pk,
        channel=ticket.channel,
        account_ref=ticket.account_ref,
        ad_account_id=tracking.account_id,
        campaign_id=tracking.campaign_id,
        ad_id=tracking.ad_id,
    )


def _click_id(platform: str, tracking: TicketTracking) -> str:
    return tracking.ctwa_clid if platform == Platform.META else tracking.ttclid


def _decide(
    *, platform: str, ticket: Ticket, tracking: TicketTracking, mapping: ConversionMapping
) -> _Decision:
    if not _click_id(platform, tracking):
        label = platforms.RULES[platform].click_id_label
        return _Decision(
            Status.SKIPPED_NO_CLICK_ID,
            _("The ticket has no %(click_id)s: the platform could not attribute it.")
            % {"click_id": label},
        )
    if platform == Platform.META and ticket.channel != Channel.WHATSAPP:
        return _Decision(
            Status.SKIPPED_NO_DESTINATION,
            _("Meta conversions are sent for WhatsApp conversations only (Business Messaging)."),
        )
    source = conversion_platforms.get(platform)
    target = source.target_for(facts=_facts(ticket, tracking), mapping=mapping) if source else None
    if target is None:
        return _Decision(
            Status.SKIPPED_NO_DESTINATION,
            _("Tracking is off for the attributed ad account, or no pixel / dataset is chosen."),
        )
    return _Decision(Status.PENDING, target=target)


def destination_for(*, tenant: Tenant, platform: str, target: Target) -> ConversionDestination:
    destination, created = ConversionDestination.objects.get_or_create(
        tenant=tenant,
        platform=platform,
        external_id=target.external_id,
        defaults={"kind": target.kind, "label": target.label, "waba_id": target.waba_id},
    )
    if not created and (destination.label, destination.waba_id, destination.kind) != (
        target.label or destination.label,
        target.waba_id or destination.waba_id,
        target.kind,
    ):
        destination.label = target.label or destination.label
        destination.waba_id = target.waba_id or destination.waba_id
        destination.kind = target.kind
        destination.save(update_fields=["label", "waba_id", "kind"])
    return destination


def _customer(ticket: Ticket) -> platforms.CustomerInfo:
    """The contact's WhatsApp number (international digits) and a stable external id."""
    contact = ticket.contact
    return platforms.CustomerInfo(
        phone=contact.wa_id, external_id=f"{ticket.tenant_id}-contact-{contact.pk}"
    )


def _payload(
    *,
    platform: str,
    event_name: str,
    event_id: str,
    change: StageChange,
    ticket: Ticket,
    tracking: TicketTracking,
    target: Target,
) -> dict:
    common = {
        "event_name": event_name,
        "event_id": event_id,
        "event_time": change.at,
        "customer": _customer(ticket),
        "value": change.value if change.to_stage == "won" else None,
        "currency": change.currency,
    }
    if platform == Platform.META:
        return platforms.meta_messaging_event(
            waba_id=target.waba_id, ctwa_clid=tracking.ctwa_clid, **common
        )
    return platforms.tiktok_web_event(ttclid=tracking.ttclid, **common)


def _is_duplicate_click(
    *, tenant: Tenant, platform: str, event_name: str, click_id: str, destination, ticket_id: int
) -> bool:
    """The same click already reported as this event to this destination, by another ticket."""
    return (
        ConversionEvent.objects.for_tenant(tenant)
        .filter(
            platform=platform,
            event_name=event_name,
            click_id=click_id,
            destination=destination,
            status__in=[Status.PENDING, Status.SENT],
        )
        .exclude(ticket_id=ticket_id)
        .exists()
    )


def conversions_for_stage_change(
    *, ticket: Ticket, change: StageChange, tracking: TicketTracking | None = None
) -> list[ConversionEvent]:
    """Create the conversion row for a stage move (none if the stage or the ticket does not convert).

    Idempotent: the same move (or the same stage reached again) finds its row.
    """
    if change.to_stage not in CONVERTING_STAGES:
        return []
    if tracking is None:
        tracking = TicketTracking.objects.filter(ticket=ticket).first()
    platform = TRACKING_PLATFORMS.get(tracking.platform) if tracking is not None else None
    if platform is None:
        return []  # organic: no ad platform to tell
    mapping = mapping_for(ticket.tenant)
    event_name = mapping.event_for(platform=platform, stage=change.to_stage)
    if not event_name:
        return []
    event_id = platforms.event_id_for(stage=change.to_stage, ticket_id=ticket.pk)
    existing = ConversionEvent.objects.for_tenant(ticket.tenant).filter(
        platform=platform, event_id=event_id
    )
    if existing.exists():
        return []
    decision = _decide(platform=platform, ticket=ticket, tracking=tracking, mapping=mapping)
    destination = None
    payload: dict = {}
    status, reason = decision.status, decision.reason
    click_id = _click_id(platform, tracking)
    if decision.target is not None:
        destination = destination_for(
            tenant=ticket.tenant, platform=platform, target=decision.target
        )
        payload = _payload(
            platform=platform,
            event_name=event_name,
            event_id=event_id,
            change=change,
            ticket=ticket,
            tracking=tracking,
            target=decision.target,
        )
        if _is_duplicate_click(
            tenant=ticket.tenant,
            platform=platform,
            event_name=event_name,
            click_id=click_id,
            destination=destination,
            ticket_id=ticket.pk,
        ):
            status = Status.SKIPPED_DUPLICATE
            reason = _("This click was already reported as %(event)s by another ticket.") % {
                "event": event_name
            }
    now = timezone.now()
    row = ConversionEvent(
        tenant=ticket.tenant,
        platform=platform,
        destination=destination,
        event_name=event_name,
        event_id=event_id,
        ticket=ticket,
        value=change.value if change.to_stage == "won" else None,
        currency=change.currency if change.to_stage == "won" else "",
        click_id=click_id,
        event_time=change.at,
        status=status,
        payload=payload,
        error_message=str(reason),
        created_at=now,
        updated_at=now,
    )
    created = ConversionEvent.objects.bulk_create([row], ignore_conflicts=True)
    logger.info(
        "capi: ticket %s reached %s: %s %s %s",
        ticket.pk,
        change.to_stage,
        platform,
        event_name,
        status,
    )
    if status == Status.PENDING:
        dispatch_kick()
    return created


def on_ticket_stage_changed(sender, *, ticket: Ticket, change: StageChange, **kwargs) -> None:
    """Receiver of leads' ``ticket_stage_changed`` (sent after the move commits)."""
    try:
        conversions_for_stage_change(ticket=ticket, change=change)
    except Exception:
        # The sweep (stage_changes_reconcile) creates the row later; the move stands.
        logger.exception("capi: conversion for ticket %s not recorded now", ticket.pk)


def stage_changes_reconcile(*, since: datetime) -> int:
    """Create the rows of converting moves made since ``since`` that have none (a lost signal).

    Reads the moves with their tickets and tracking in one query and the
    existing event ids in another; only tickets without a row do more work.
    """
    changes = list(
        StageChange.objects.filter(at__gte=since, to_stage__in=CONVERTING_STAGES)
        .select_related("ticket__tenant", "ticket__contact", "ticket__tracking")
        .order_by("at", "pk")
    )
    if not changes:
        return 0
    ticket_ids = {c.ticket_id for c in changes}
    have = set(
        ConversionEvent.objects.filter(ticket_id__in=ticket_ids).values_list(
            "ticket_id", "event_id"
        )
    )
    created = 0
    for change in changes:
        ticket = change.ticket
        tracking = getattr(ticket, "tracking", None)
        if tracking is None or tracking.platform not in TRACKING_PLATFORMS:
            continue
        event_id = platforms.event_id_for(stage=change.to_stage, ticket_id=ticket.pk)
        if (ticket.pk, event_id) in have:
            continue
        created += len(
            conversions_for_stage_change(ticket=ticket, change=change, tracking=tracking)
        )
        have.add((ticket.pk, event_id))
    return created


# --- resend ------------------------------------------------------------------------------


RESENDABLE = (Status.FAILED,)


def events_resend(*, events: QuerySet[ConversionEvent]) -> int:
    """Put failed events back in the queue with their attempts reset (same event ids)."""
    now = timezone.now()
    count = events.filter(status__in=RESENDABLE).update(
        status=Status.PENDING,
        attempts=0,
        next_attempt_at=None,
        claim_token="",
        claimed_until=None,
        error_code="",
        error_message="",
        updated_at=now,
    )
    if count:
        dispatch_kick()
    return count


# --- test events -------------------------------------------------------------------------


class TestEventError(Exception):
    """The test event could not be sent; ``str()`` is for the person."""


def _test_payload(destination: ConversionDestination, now: datetime) -> dict:
    event_id = f"test-{uuid.uuid4().hex[:16]}"
    customer = platforms.CustomerInfo(external_id=f"{destination.tenant_id}-test")
    if destination.platform == Platform.META:
        if destination.waba_id:
            return platforms.meta_messaging_event(
                event_name="LeadSubmitted",
                event_id=event_id,
                event_time=now,
                waba_id=destination.waba_id,
                ctwa_clid="TEST_EVENT",
                customer=customer,
                value=None,
                currency="",
            )
        # A pixel without a WABA: a generic server event, enough to see it arrive.
        return {
            "event_name": "LeadSubmitted",
            "event_time": int(now.timestamp()),
            "event_id": event_id,
            "action_source": "system_generated",
            "user_data": {"external_id": [hashing.hash_external_id(customer.external_id)]},
        }
    return platforms.tiktok_web_event(
        event_name="Lead",
        event_id=event_id,
        event_time=now,
        ttclid="TEST_EVENT",
        customer=customer,
        value=None,
        currency="",
    )


def destination_test_event(*, destination: ConversionDestination, test_event_code: str) -> str:
    """Send one test event with the platform's test event code; returns what the platform said.

    Test events are not stored as conversions (they are not the tenant's
    customers); the request is kept as a :class:`DeliveryAttempt` marked test.
    """
    from .dispatch import ClientPool  # the dispatcher's client choice, one place

    code = test_event_code.strip()
    if not code:
        raise TestEventError(_("Enter the test event code from the platform's Events Manager."))
    source = conversion_platforms.get(destination.platform)
    token = (
        source.access_token(tenant=destination.tenant, destination=destination) if source else None
    )
    if not token:
        raise TestEventError(_("No connected account can send to this destination."))
    now = timezone.now()
    payload = _test_payload(destination, now)
    clients = ClientPool()
    client = clients.get(platform=destination.platform, token=token, tenant=destination.tenant)
    started = time.monotonic()
    try:
        if destination.platform == Platform.META:
            answer = client.send_events(
                dataset_id=destination.external_id, events=[payload], test_event_code=code
            )
        else:
            answer = client.track(
                event_source_id=destination.external_id, events=[payload], test_event_code=code
            )
    except ProviderError as exc:
        result = redact_text(str(exc))[:500]
        _test_recorded(destination, now, started, code=code, ok=False, result=result, exc=exc)
        raise TestEventError(
            _("The platform refused the test event: %(error)s") % {"error": result}
        ) from None
    finally:
        clients.close()
    result = _("Received (%(n)d event, trace %(trace)s).") % {
        "n": answer.events_received,
        "trace": answer.trace_id or "-",
    }
    _test_recorded(destination, now, started, code=code, ok=True, result=result, answer=answer)
    return result


def _test_recorded(destination, now, started, *, code, ok, result, exc=None, answer=None) -> None:
    DeliveryAttempt.objects.create(
        tenant_id=destination.tenant_id,
        destination=destination,
        started_at=now,
        duration_ms=int((time.monotonic() - started) * 1000),
        events=1,
        test=True,
        outcome=DeliveryAttempt.Outcome.SENT if ok else DeliveryAttempt.Outcome.REJECTED,
        status_code=200 if ok else exc.status_code,
        provider_code=(answer.provider_code if ok else exc.code)[:64],
        trace_id=(answer.trace_id if ok else exc.request_id)[:128],
        events_received=answer.events_received if ok else None,
        error="" if ok else result,
    )
    ConversionDestination.objects.filter(pk=destination.pk).update(
        test_event_code=code, last_test_at=now, last_test_result=str(result)[:500]
    )


# --- lead form webhook URL ---------------------------------------------------------------


def lead_endpoint_for(tenant: Tenant) -> LeadFormEndpoint:
    endpoint, _created = LeadFormEndpoint.objects.get_or_create(tenant=tenant)
    return endpoint


def lead_endpoint_rotate(*, tenant: Tenant) -> LeadFormEndpoint:
    """A new token: the old URL stops working at once (deliveries to it answer 401)."""
    endpoint = lead_endpoint_for(tenant)
    endpoint.token = new_route_token()
    endpoint.rotated_at = timezone.now()
    endpoint.save(update_fields=["token", "rotated_at"])
    return endpoint


def tenant_for_route_token(token: str) -> Tenant | None:
    if not token:
        return None
    endpoint = LeadFormEndpoint.objects.filter(token=token).select_related("tenant").first()
    return endpoint.tenant if endpoint is not None else None


# --- queueing the dispatcher -------------------------------------------------------------


class _DispatchKicker:
    """Queue a dispatch task at most once per ``interval`` seconds per process, after commit.

    A burst of stage moves then costs one task, not one per event; the
    minute schedule is the backstop if the queue lost it.
    """

    interval = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0

    def kick(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                return
            self._last = now
        transaction.on_commit(_queue_dispatch)

    def reset(self) -> None:
        with self._lock:
            self._last = 0.0


def _queue_dispatch() -> None:
    from django_q.tasks import async_task

    async_task(DISPATCH_TASK, task_name="capi dispatch", q_options={"group": "capi"})


dispatch_kicker = _DispatchKicker()


def dispatch_kick() -> None:
    dispatch_kicker.kick()


#: The periodic task's sweep looks this far back for moves without a row.
RECONCILE_WINDOW = timedelta(hours=1)
