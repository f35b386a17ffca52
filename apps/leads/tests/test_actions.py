"""Stage moves: recorded as StageChange events, audited, signalled after commit."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.integrations.models import AuditEntry
from apps.leads.actions import ActionRefused, deal_value_parse, ticket_move_stage
from apps.leads.models import Contact, StageChange, Ticket
from apps.leads.signals import ticket_stage_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(tenant_a) -> Ticket:
    contact = Contact.objects.create(tenant=tenant_a, wa_id="5511987654321", name="Ana Souza")
    now = timezone.now()
    return Ticket.objects.create(
        tenant=tenant_a, contact=contact, channel="whatsapp", last_message_at=now, opened_at=now
    )


@pytest.fixture
def received():
    events = []

    def receiver(sender, ticket, change, **kwargs):
        events.append((sender, ticket.pk, change.from_stage, change.to_stage))

    ticket_stage_changed.connect(receiver)
    yield events
    ticket_stage_changed.disconnect(receiver)


def test_a_member_moves_a_ticket_to_qualified(
    ticket, member_a, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        change = ticket_move_stage(ticket=ticket, to_stage="qualified", user=member_a)
        assert received == [], "nothing is signalled before commit"
    for callback in callbacks:
        callback()

    ticket.refresh_from_db()
    assert ticket.stage == "qualified"
    assert (change.from_stage, change.to_stage, change.by, change.value) == (
        "new",
        "qualified",
        member_a,
        None,
    )
    assert received == [(Ticket, ticket.pk, "new", "qualified")]
    entry = AuditEntry.objects.get(product="leads")
    assert (entry.user, entry.action, entry.object_type, entry.object_id) == (
        member_a,
        "move_stage",
        "ticket",
        str(ticket.pk),
    )
    assert (entry.before, entry.after, entry.outcome) == (
        {"stage": "new"},
        {"stage": "qualified"},
        "succeeded",
    )


def test_won_records_value_and_currency(ticket, owner_a):
    change = ticket_move_stage(
        ticket=ticket, to_stage="won", user=owner_a, value=Decimal("1188.00"), currency="brl"
    )

    ticket.refresh_from_db()
    assert (ticket.stage, ticket.deal_value, ticket.currency) == ("won", Decimal("1188.00"), "BRL")
    assert (change.value, change.currency) == (Decimal("1188.00"), "BRL")
    assert AuditEntry.objects.get().after == {"stage": "won", "value": "1188.00", "currency": "BRL"}


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        (None, "BRL"),
        (Decimal("0"), "BRL"),
        (Decimal("-5"), "BRL"),
        (Decimal("10"), ""),
        (Decimal("10"), "XXX"),
        (Decimal("10.001"), "BRL"),
    ],
)
def test_won_without_a_valid_value_and_currency_is_refused(ticket, owner_a, value, currency):
    with pytest.raises(ActionRefused):
        ticket_move_stage(
            ticket=ticket, to_stage="won", user=owner_a, value=value, currency=currency
        )
    ticket.refresh_from_db()
    assert ticket.stage == "new"
    assert not StageChange.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("1188", Decimal("1188")), ("1188.50", Decimal("1188.50")), (" 99,90 ", Decimal("99.90"))],
)
def test_deal_values_typed_by_people_are_parsed(typed, expected):
    assert deal_value_parse(typed) == expected


@pytest.mark.parametrize("typed", ["", "abc", "1e400000", "NaN", "0", "1.999", "1" * 20])
def test_impossible_deal_values_are_refused(typed):
    with pytest.raises(ActionRefused):
        deal_value_parse(typed)


def test_leaving_won_clears_the_deal_but_history_keeps_it(ticket, owner_a):
    ticket_move_stage(
        ticket=ticket, to_stage="won", user=owner_a, value=Decimal("50"), currency="USD"
    )
    ticket_move_stage(ticket=ticket, to_stage="lost", user=owner_a)

    ticket.refresh_from_db()
    assert (ticket.stage, ticket.deal_value, ticket.currency) == ("lost", None, "")
    assert list(StageChange.objects.values_list("to_stage", "value", "currency")) == [
        ("won", Decimal("50.00"), "USD"),
        ("lost", None, ""),
    ]


def test_moving_to_the_same_or_an_unknown_stage_is_refused(ticket, owner_a):
    for stage in ("new", "closed"):
        with pytest.raises(ActionRefused):
            ticket_move_stage(ticket=ticket, to_stage=stage, user=owner_a)
    assert not StageChange.objects.exists()


def test_a_move_on_a_stale_view_is_refused(ticket, owner_a, member_a):
    seen_by_member = Ticket.objects.get(pk=ticket.pk)
    ticket_move_stage(ticket=ticket, to_stage="qualified", user=owner_a)

    with pytest.raises(ActionRefused, match="meanwhile"):
        ticket_move_stage(ticket=seen_by_member, to_stage="lost", user=member_a)

    ticket.refresh_from_db()
    assert ticket.stage == "qualified"
    assert StageChange.objects.count() == 1


def test_a_failing_listener_neither_undoes_nor_hides_the_move(
    ticket, member_a, django_capture_on_commit_callbacks, caplog
):
    def broken(sender, **kwargs):
        raise RuntimeError("conversions are down")

    ticket_stage_changed.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket_move_stage(ticket=ticket, to_stage="qualified", user=member_a)
    finally:
        ticket_stage_changed.disconnect(broken)

    ticket.refresh_from_db()
    assert ticket.stage == "qualified"
    assert "conversions are down" in caplog.text
