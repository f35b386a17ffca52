"""Changes people make to tickets: stage moves (members may move tickets).

A move is one conditional UPDATE on the stage the person saw, so two people
moving one ticket at once cannot both win: the second is told the ticket
moved meanwhile. Each move writes a :class:`~apps.leads.models.StageChange`
(the event other apps act on), an :class:`~apps.integrations.models.AuditEntry`
naming who did it, and sends :data:`~apps.leads.signals.ticket_stage_changed`
once the transaction commits.

Moving to ``won`` needs the deal's value and currency; leaving ``won`` clears
them from the ticket (the history keeps them).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.models import AuditEntry
from apps.integrations.redaction import redact_text

from .models import StageChange, Ticket
from .signals import ticket_stage_changed

logger = logging.getLogger(__name__)

PRODUCT = "leads"
Stage = Ticket.Stage

#: Currencies a deal can be recorded in (ISO 4217), the ones our tenants sell in first.
CURRENCIES: tuple[str, ...] = (
    "BRL",
    "USD",
    "EUR",
    "GBP",
    "ARS",
    "AUD",
    "CAD",
    "CHF",
    "CLP",
    "CNY",
    "COP",
    "IDR",
    "INR",
    "JPY",
    "KRW",
    "MXN",
    "MYR",
    "NZD",
    "PEN",
    "PHP",
    "PYG",
    "SGD",
    "THB",
    "UYU",
    "VND",
    "ZAR",
)
#: Deal values are stored with 2 decimals and at most 12 digits before the point.
VALUE_STEP = Decimal("0.01")
MAX_VALUE = Decimal("999999999999.99")


class ActionRefused(Exception):
    """The move did not happen; ``str()`` is the message for the person."""


def deal_value_parse(value: object) -> Decimal:
    """A value typed by a person (``"1188"``, ``"1188.50"``, ``"1188,50"``), or ActionRefused."""
    text = str(value if value is not None else "").strip().replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ActionRefused(_("Enter the deal value as a number, e.g. 1188.00.")) from None
    if not amount.is_finite() or amount <= 0:
        raise ActionRefused(_("The deal value must be a positive amount."))
    if amount > MAX_VALUE:
        raise ActionRefused(_("The deal value is too large."))
    if amount != amount.quantize(VALUE_STEP):
        raise ActionRefused(_("The deal value can have at most 2 decimals."))
    return amount


def _check_deal(value: Decimal | None, currency: str) -> None:
    if value is None:
        raise ActionRefused(_("A won ticket needs the deal value."))
    deal_value_parse(value)
    if currency not in CURRENCIES:
        raise ActionRefused(_("Choose the deal currency."))


def ticket_move_stage(
    *,
    ticket: Ticket,
    to_stage: str,
    user: AbstractBaseUser | None,
    value: Decimal | None = None,
    currency: str = "",
) -> StageChange:
    """Move ``ticket`` (as the person saw it) to ``to_stage``; won needs ``value`` and ``currency``."""
    if to_stage not in Stage.values:
        raise ActionRefused(_("Unknown stage."))
    from_stage = ticket.stage
    if to_stage == from_stage:
        raise ActionRefused(
            _("The ticket is already in %(stage)s.") % {"stage": Stage(to_stage).label}
        )
    currency = (currency or "").strip().upper()
    if to_stage == Stage.WON:
        _check_deal(value, currency)
    else:
        value, currency = None, ""
    now = timezone.now()
    with transaction.atomic():
        moved = Ticket.objects.filter(pk=ticket.pk, stage=from_stage).update(
            stage=to_stage, deal_value=value, currency=currency
        )
        if not moved:
            raise ActionRefused(_("Someone moved this ticket meanwhile. Reload and try again."))
        change = StageChange.objects.create(
            tenant_id=ticket.tenant_id,
            ticket=ticket,
            from_stage=from_stage,
            to_stage=to_stage,
            by=user if user is not None and user.is_authenticated else None,
            value=value,
            currency=currency,
            at=now,
        )
        _audit(user=user, ticket=ticket, from_stage=from_stage, change=change)
        ticket.stage, ticket.deal_value, ticket.currency = to_stage, value, currency
        transaction.on_commit(lambda: _signal_stage_changed(ticket=ticket, change=change))
    return change


def _signal_stage_changed(*, ticket: Ticket, change: StageChange) -> None:
    """Tell listeners; one that fails is logged and does not undo or hide the committed move.

    Listeners that must not miss a move also sweep :class:`StageChange` rows.
    """
    answers = ticket_stage_changed.send_robust(sender=Ticket, ticket=ticket, change=change)
    for receiver, answer in answers:
        if isinstance(answer, Exception):
            logger.error(
                "leads: %s failed on stage change %s of ticket %s: %s",
                getattr(receiver, "__qualname__", receiver),
                change.pk,
                ticket.pk,
                redact_text(f"{type(answer).__name__}: {answer}"),
            )


def _audit(
    *, user: AbstractBaseUser | None, ticket: Ticket, from_stage: str, change: StageChange
) -> AuditEntry:
    after: dict = {"stage": change.to_stage}
    if change.value is not None:
        after.update(value=f"{change.value:.2f}", currency=change.currency)
    return AuditEntry.objects.create(
        tenant_id=ticket.tenant_id,
        user=change.by,
        product=PRODUCT,
        action="move_stage",
        object_type="ticket",
        object_id=str(ticket.pk),
        before={"stage": from_stage},
        after=after,
        outcome=AuditEntry.Outcome.SUCCEEDED,
    )
