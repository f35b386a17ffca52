"""Stage moves create conversion rows; the dispatcher sends them once (acceptance 2)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.capi import hashing, services
from apps.capi.dispatch import dispatch
from apps.capi.models import ConversionDestination, ConversionEvent, ConversionMapping
from apps.leads.models import Channel, StageChange

from .conftest import META_DATASET, META_WABA, TIKTOK_PIXEL_CODE, make_ticket, move

pytestmark = pytest.mark.django_db

Status = ConversionEvent.Status


def _event_requests(sandbox, path: str) -> list[dict]:
    """Bodies of the requests the sandbox received on ``path``."""
    return [
        json.loads(call.request.body)
        for call in sandbox.mock.calls
        if path in call.request.url and call.request.method == "POST"
    ]


def test_qualifying_twice_sends_one_lead(
    tenant_a, sandbox, meta_platform, kicks, django_capture_on_commit_callbacks
):
    ticket = make_ticket(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "qualified")
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "new")
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "qualified")
    dispatch()
    dispatch()

    events = list(ConversionEvent.objects.for_tenant(tenant_a))
    assert [(e.event_name, e.event_id, e.status) for e in events] == [
        ("LeadSubmitted", f"lead-{ticket.pk}", Status.SENT)
    ]
    requests = _event_requests(sandbox, f"/{META_DATASET}/events")
    assert len(requests) == 1
    assert [e["event_id"] for e in requests[0]["data"]] == [f"lead-{ticket.pk}"]
    assert kicks, "a dispatch task is queued once the new event commits"


def test_winning_sends_one_purchase_with_its_value(
    tenant_a, sandbox, meta_platform, kicks, django_capture_on_commit_callbacks
):
    ticket = make_ticket(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "won", value=Decimal("1188.50"), currency="BRL")
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "lost")
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "won", value=Decimal("99.00"), currency="BRL")
    dispatch()

    purchase = ConversionEvent.objects.for_tenant(tenant_a).get(event_name="Purchase")
    assert purchase.event_id == f"purchase-{ticket.pk}"
    assert purchase.status == Status.SENT
    assert purchase.value == Decimal("1188.50")
    requests = _event_requests(sandbox, f"/{META_DATASET}/events")
    assert len(requests) == 1
    [sent] = requests[0]["data"]
    assert sent["event_name"] == "Purchase"
    assert sent["custom_data"] == {"value": 1188.5, "currency": "BRL"}
    assert sent["action_source"] == "business_messaging"
    assert sent["messaging_channel"] == "whatsapp"


def test_business_messaging_payload_keeps_ids_unhashed_and_hashes_pii(
    tenant_a, sandbox, meta_platform, kicks, django_capture_on_commit_callbacks
):
    ticket = make_ticket(tenant_a, ctwa_clid="ARAkLk-clid-exact-bytes", wa_id="5511987654321")
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "qualified")
    event = ConversionEvent.objects.get(ticket=ticket)
    user_data = event.payload["user_data"]
    assert user_data["whatsapp_business_account_id"] == META_WABA
    assert user_data["ctwa_clid"] == "ARAkLk-clid-exact-bytes"
    assert user_data["ph"] == [hashing.sha256_hex("5511987654321")]
    assert "5511987654321" not in json.dumps(event.payload)
    assert event.payload["event_time"] == int(event.event_time.timestamp())


def test_a_ticket_without_its_click_id_is_skipped_with_no_http_call(
    tenant_a, sandbox, meta_platform, kicks, django_capture_on_commit_callbacks
):
    ticket = make_ticket(tenant_a, ctwa_clid="")  # a status ad: no ctwa_clid
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "qualified")
    result = dispatch()

    event = ConversionEvent.objects.get(ticket=ticket)
    assert event.status == Status.SKIPPED_NO_CLICK_ID
    assert "ctwa_clid" in event.error_message
    assert event.destination is None
    assert result.requests == 0
    assert len(sandbox.mock.calls) == 0
    assert not kicks


def test_tiktok_ticket_without_ttclid_is_skipped(
    tenant_a, sandbox, tiktok_platform, kicks, django_capture_on_commit_callbacks
):
    ticket = make_ticket(tenant_a, platform="tiktok", ttclid="", channel=Channel.TIKTOK_LEAD_FORM)
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "qualified")
    dispatch()
    assert ConversionEvent.objects.get(ticket=ticket).status == Status.SKIPPED_NO_CLICK_ID
    assert len(sandbox.mock.calls) == 0


def test_tiktok_ticket_with_ttclid_sends_lead_then_purchase(
    tenant_a, sandbox, tiktok_platform, kicks, django_capture_on_commit_callbacks
):
    ticket = make_ticket(
        tenant_a, platform="tiktok", ttclid="E.C.P.ttclid-1", channel=Channel.TIKTOK_LEAD_FORM
    )
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "qualified")
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "won", value=Decimal("250"), currency="USD")
    dispatch()

    rows = ConversionEvent.objects.for_tenant(tenant_a).order_by("pk")
    assert [(e.event_name, e.status) for e in rows] == [
        ("Lead", Status.SENT),
        ("Purchase", Status.SENT),
    ]
    [request] = _event_requests(sandbox, "/event/track/")
    assert request["event_source"] == "web"
    assert request["event_source_id"] == TIKTOK_PIXEL_CODE
    lead, purchase = request["data"]
    assert lead["user"]["ttclid"] == "E.C.P.ttclid-1"
    assert purchase["properties"] == {"value": 250.0, "currency": "USD"}
    assert rows[0].trace_id  # TikTok's request_id


def test_no_destination_is_kept_as_skipped(
    tenant_a, sandbox, meta_platform, kicks, django_capture_on_commit_callbacks
):
    meta_platform.target = None  # tracking off, or no pixel chosen
    ticket = make_ticket(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "qualified")
    dispatch()
    event = ConversionEvent.objects.get(ticket=ticket)
    assert event.status == Status.SKIPPED_NO_DESTINATION
    assert len(sandbox.mock.calls) == 0


def test_meta_only_for_whatsapp_conversations(tenant_a, meta_platform, kicks):
    ticket = make_ticket(tenant_a, channel=Channel.TIKTOK_SHOP_CHAT)
    change = move(ticket, "qualified")
    services.conversions_for_stage_change(ticket=ticket, change=change)
    assert ConversionEvent.objects.get(ticket=ticket).status == Status.SKIPPED_NO_DESTINATION
    assert meta_platform.asked == []


def test_organic_tickets_and_other_stages_convert_nothing(tenant_a, meta_platform, kicks):
    organic = make_ticket(tenant_a, platform="")
    services.conversions_for_stage_change(ticket=organic, change=move(organic, "qualified"))
    attributed = make_ticket(tenant_a)
    services.conversions_for_stage_change(ticket=attributed, change=move(attributed, "lost"))
    assert not ConversionEvent.objects.exists()


def test_the_same_click_on_two_tickets_is_a_duplicate(tenant_a, meta_platform, kicks):
    first = make_ticket(tenant_a, ctwa_clid="same-click", wa_id="5511900000001")
    second = make_ticket(tenant_a, ctwa_clid="same-click", wa_id="5511900000002")
    services.conversions_for_stage_change(ticket=first, change=move(first, "qualified"))
    services.conversions_for_stage_change(ticket=second, change=move(second, "qualified"))
    statuses = dict(ConversionEvent.objects.values_list("ticket_id", "status"))
    assert statuses == {first.pk: Status.PENDING, second.pk: Status.SKIPPED_DUPLICATE}


def test_mapping_chooses_the_event_and_can_send_nothing(tenant_a, meta_platform, kicks):
    services.mapping_save(
        tenant=tenant_a,
        values={
            "meta_qualified": "QualifiedLead",
            "meta_won": "",
            "tiktok_qualified": "SubmitForm",
        },
    )
    ticket = make_ticket(tenant_a)
    services.conversions_for_stage_change(ticket=ticket, change=move(ticket, "qualified"))
    services.conversions_for_stage_change(
        ticket=ticket, change=move(ticket, "won", value=Decimal("10"), currency="BRL")
    )
    assert list(ConversionEvent.objects.values_list("event_name", flat=True)) == ["QualifiedLead"]
    mapping = ConversionMapping.objects.get(tenant=tenant_a)
    assert (mapping.tiktok_qualified, mapping.tiktok_won) == ("SubmitForm", "")


def test_mapping_refuses_names_business_messaging_rejects(tenant_a):
    with pytest.raises(services.MappingError):
        services.mapping_save(tenant=tenant_a, values={"meta_qualified": "Lead"})
    assert not ConversionMapping.objects.exists()


def test_defaults_without_a_saved_mapping(tenant_a):
    mapping = services.mapping_for(tenant_a)
    assert mapping.pk is None
    assert mapping.event_for(platform="meta", stage="qualified") == "LeadSubmitted"
    assert mapping.event_for(platform="meta", stage="won") == "Purchase"
    assert mapping.event_for(platform="tiktok", stage="qualified") == "Lead"
    assert mapping.event_for(platform="tiktok", stage="won") == "Purchase"
    assert mapping.meta_target == ConversionMapping.MetaTarget.WABA_DATASET


def test_a_lost_signal_is_made_up_by_the_sweep(tenant_a, meta_platform, kicks):
    """The move committed but its signal never ran (process died): the sweep creates the row."""
    ticket = make_ticket(tenant_a)
    move(ticket, "qualified")  # on_commit never runs inside the test transaction
    assert not ConversionEvent.objects.exists()
    created = services.stage_changes_reconcile(since=timezone.now() - timedelta(hours=1))
    again = services.stage_changes_reconcile(since=timezone.now() - timedelta(hours=1))
    assert (created, again) == (1, 0)
    assert ConversionEvent.objects.get().event_id == f"lead-{ticket.pk}"


def test_sweep_reads_a_fixed_number_of_queries(
    tenant_a, meta_platform, kicks, django_assert_max_num_queries
):
    tickets = [
        make_ticket(tenant_a, ctwa_clid=f"c{i}", wa_id=f"55119000000{i:02d}") for i in range(5)
    ]
    for ticket in tickets:
        move(ticket, "qualified")
    services.stage_changes_reconcile(since=timezone.now() - timedelta(hours=1))
    # Everything has its row now: a sweep over 5 (or 500) moves costs two queries.
    with django_assert_max_num_queries(2):
        assert services.stage_changes_reconcile(since=timezone.now() - timedelta(hours=1)) == 0
    assert StageChange.objects.count() == 5


def test_destination_row_follows_the_platform_answer(tenant_a, meta_platform, kicks):
    ticket = make_ticket(tenant_a)
    services.conversions_for_stage_change(ticket=ticket, change=move(ticket, "qualified"))
    destination = ConversionDestination.objects.get()
    assert (
        destination.platform,
        destination.external_id,
        destination.kind,
        destination.waba_id,
    ) == (
        "meta",
        META_DATASET,
        "waba_dataset",
        META_WABA,
    )
    assert meta_platform.asked[0].account_ref == ticket.account_ref
    assert meta_platform.asked[0].ad_account_id == "1234567890"
