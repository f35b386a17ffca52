"""Staff screens: every leads model has a list and a detail page; histories are read-only."""

import pytest
from django.urls import reverse

from apps.leads.enrichment import EnrichmentUnavailable
from apps.leads.models import AttributionChange, LeadSettings, StageChange, TicketTracking
from apps.leads.services import ENRICH_TASK, message_received, tracking_enrich

from .helpers import inbound

pytestmark = pytest.mark.django_db

MODELS = [
    "leadsettings",
    "contact",
    "ticket",
    "message",
    "tickettracking",
    "attributionchange",
    "stagechange",
]


@pytest.fixture
def world(tenant_a, owner_a, queued, enricher):
    ticket = message_received(
        tenant=tenant_a, message=inbound("whatsapp_messages__text_with_referral")
    )
    LeadSettings.objects.create(tenant=tenant_a)
    StageChange.objects.create(
        tenant=tenant_a, ticket=ticket, from_stage="new", to_stage="qualified", by=owner_a
    )
    return ticket


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_a_list_and_a_detail_page(admin_client, world, model):
    from django.apps import apps

    row = apps.get_model("leads", model).objects.first()
    listing = admin_client.get(reverse(f"admin:leads_{model}_changelist"))
    detail = admin_client.get(reverse(f"admin:leads_{model}_change", args=[row.pk]))
    assert (listing.status_code, detail.status_code) == (200, 200)


def test_the_ticket_page_shows_the_contact_ids_to_staff(admin_client, world):
    page = admin_client.get(reverse("admin:leads_ticket_change", args=[world.pk])).content.decode()
    assert "120212345678900123" in page
    contact = admin_client.get(reverse("admin:leads_contact_change", args=[world.contact_id]))
    assert "5511987654321" in contact.content.decode()


def test_histories_cannot_be_added_or_changed(admin_client, world):
    for model in ("attributionchange", "stagechange"):
        assert admin_client.get(reverse(f"admin:leads_{model}_add")).status_code == 403
    change = AttributionChange.objects.get()
    admin_client.post(
        reverse("admin:leads_attributionchange_change", args=[change.pk]),
        {"to_ad_id": "forged"},
    )
    change.refresh_from_db()
    assert change.to_ad_id == "120212345678900123"


def test_staff_can_queue_another_lookup(admin_client, world, queued, enricher):
    tracking = TicketTracking.objects.get()
    enricher.answers[tracking.ad_id] = EnrichmentUnavailable("no profile reaches it")
    tracking_enrich(tracking_id=tracking.pk, ad_id=tracking.ad_id)
    queued.clear()

    response = admin_client.post(
        reverse("admin:leads_tickettracking_changelist"),
        {"action": "enrich_again", "_selected_action": [tracking.pk]},
        follow=True,
    )

    assert "1 lookup queued." in response.content.decode()
    assert queued == [(ENRICH_TASK, (tracking.pk, tracking.ad_id))]
