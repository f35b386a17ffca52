"""The Leads page, the ticket page, stage moves (htmx and plain posts) and settings."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.leads.models import Contact, LeadSettings, StageChange, Ticket, TicketTracking
from apps.leads.services import message_received

from .helpers import inbound, later

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
INDEX = reverse("leads:index")


def make_ticket(tenant, n: int, *, stage="new", campaign: tuple[str, str] | None = None, **kw):
    contact = Contact.objects.create(tenant=tenant, wa_id=f"55119{n:08d}", name=f"Contact {n}")
    at = timezone.now() - timedelta(minutes=n)
    ticket = Ticket.objects.create(
        tenant=tenant,
        contact=contact,
        channel=kw.pop("channel", "whatsapp"),
        stage=stage,
        last_message_at=at,
        opened_at=at,
        **kw,
    )
    if campaign:
        TicketTracking.objects.create(
            tenant=tenant,
            ticket=ticket,
            platform="meta",
            ad_id=f"ad{n}",
            attributed_at=at,
            campaign_id=campaign[0],
            campaign_name=campaign[1],
            ad_name=f"Ad {n}",
            enrichment_status="completed",
        )
    return ticket


@pytest.fixture
def attributed(tenant_a, queued) -> Ticket:
    """A ticket brought by ad A, then ad B (enriched), with a plain message in between."""
    click_a = inbound("whatsapp_messages__text_with_referral")
    ticket = message_received(tenant=tenant_a, message=click_a)
    message_received(tenant=tenant_a, message=inbound("whatsapp_messages__text"))
    message_received(tenant=tenant_a, message=inbound("whatsapp_messages__video_referral_other_ad"))
    TicketTracking.objects.filter(ticket=ticket).update(
        campaign_id="2384001",
        campaign_name="Plano mensal · Leads",
        adset_id="2384002",
        adset_name="São Paulo 25-45",
        ad_name="Vídeo plano mensal",
        enrichment_status="completed",
        enriched_ad_id="120212345678900456",
    )
    return ticket


def _count(client, url: str, **kwargs) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **kwargs)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# --- the Leads page ------------------------------------------------------------------------


def test_the_leads_page_lists_tickets_with_their_campaign_and_stage_counts(
    attributed, member_client, tenant_a
):
    make_ticket(tenant_a, 1, stage="qualified")
    make_ticket(tenant_a, 2, stage="won", deal_value=Decimal("10"), currency="USD")

    page = member_client.get(INDEX).content.decode()

    assert "Ana Souza" in page
    assert "Plano mensal · Leads" in page
    assert "Vídeo plano mensal" in page
    assert 'data-stage="new">New <span class="count">1</span>' in page
    assert 'data-stage="qualified">Qualified <span class="count">1</span>' in page
    assert 'All stages <span class="count">3</span>' in page
    assert "10.00 USD" in page
    assert "Organic" in page


def test_filters_narrow_the_list(tenant_a, member_client):
    make_ticket(tenant_a, 1, campaign=("111", "Spring sale"))
    make_ticket(tenant_a, 2, campaign=("222", "Black Friday"), stage="qualified")
    make_ticket(tenant_a, 3, channel="tiktok_shop")
    make_ticket(tenant_a, 4, status="expired")

    def names(query: str) -> set[str]:
        response = member_client.get(f"{INDEX}?{query}")
        return {t.contact.name for t in response.context["board"].page}

    assert names("") == {"Contact 1", "Contact 2", "Contact 3", "Contact 4"}
    assert names("campaign=222") == {"Contact 2"}
    assert names("campaign=none") == {"Contact 3", "Contact 4"}
    assert names("stage=qualified") == {"Contact 2"}
    assert names("channel=tiktok_shop") == {"Contact 3"}
    assert names("status=expired") == {"Contact 4"}
    assert names("stage=bogus&channel=sms&campaign=x'or") == names("")
    page = member_client.get(INDEX).content.decode()
    assert '<option value="222">Black Friday</option>' in page
    assert '<option value="111">Spring sale</option>' in page


def test_the_list_is_paginated(tenant_a, member_client):
    for n in range(30):
        make_ticket(tenant_a, n)

    first = member_client.get(INDEX)
    second = member_client.get(f"{INDEX}?page=2")

    assert len(first.context["board"].page) == 25
    assert len(second.context["board"].page) == 5
    assert "Page 1 of 2" in first.content.decode()


def test_the_leads_page_query_count_does_not_grow_with_tickets(tenant_a, member_client):
    make_ticket(tenant_a, 0, campaign=("1", "One"))
    one = _count(member_client, INDEX)
    for n in range(1, 40):
        make_ticket(tenant_a, n, campaign=(str(n), f"Campaign {n}"), stage="qualified")
    assert _count(member_client, INDEX) == one
    assert _count(member_client, f"{INDEX}?stage=qualified&page=2") == one
    # session, user, memberships; settings; stage counts, campaigns, page count, page rows;
    # the polling version; one per channel that can say why it is empty (TikTok Shop).
    assert one <= 11


def test_anonymous_visitors_go_to_the_login_page(client):
    response = client.get(INDEX)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_navigation_links_to_the_leads_page(member_client):
    page = member_client.get(reverse("integrations:hub")).content.decode()
    assert f'href="{INDEX}"' in page


# --- the ticket page ----------------------------------------------------------------------


def test_the_ticket_page_shows_attribution_history_and_messages(attributed, member_client):
    page = member_client.get(reverse("leads:ticket", args=[attributed.pk])).content.decode()

    assert "Plano mensal · Leads" in page and "2384001" in page
    assert "São Paulo 25-45" in page and "2384002" in page
    assert "Vídeo plano mensal" in page and "120212345678900456" in page
    assert "present (conversions can be reported)" in page
    assert "ARAkOtherClid" not in page, "the click id itself is not shown"
    assert "Completed" in page
    assert "first touch: ad 120212345678900123" in page
    assert "ad 120212345678900123 → ad 120212345678900456" in page
    assert "Olá! Quero saber mais sobre o plano anual." in page
    assert "Pode me mandar o preço com desconto?" in page
    assert "Not moved yet." in page


def test_the_ticket_page_says_why_enrichment_failed(attributed, member_client):
    TicketTracking.objects.filter(ticket=attributed).update(
        enrichment_status="failed",
        enrichment_error="No connected Facebook profile reaches ad account act_99.",
        ctwa_clid="",
    )
    page = member_client.get(reverse("leads:ticket", args=[attributed.pk])).content.decode()
    assert "No connected Facebook profile reaches ad account act_99." in page
    assert "none (e.g. a Status ad)" in page


def test_the_ticket_page_query_count_does_not_grow_with_messages(attributed, member_client):
    url = reverse("leads:ticket", args=[attributed.pk])
    before = _count(member_client, url)
    base = inbound("whatsapp_messages__text")
    for n in range(20):
        message_received(
            tenant=attributed.tenant, message=later(base, timedelta(minutes=n + 1), f"wamid.{n}")
        )
    assert _count(member_client, url) == before


def test_another_tenants_ticket_is_a_404(tenant_b, member_client):
    other = make_ticket(tenant_b, 1)
    assert member_client.get(reverse("leads:ticket", args=[other.pk])).status_code == 404
    response = member_client.post(
        reverse("leads:ticket_stage", args=[other.pk]), {"stage": "qualified"}
    )
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.stage == "new"


# --- stage moves ---------------------------------------------------------------------------


def test_a_member_moves_a_ticket_over_htmx_and_gets_the_stage_panel(
    attributed, member_client, member_a
):
    url = reverse("leads:ticket_stage", args=[attributed.pk])

    response = member_client.post(url, {"stage": "qualified"}, headers=HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="ticket-stage"' in html
    assert "Ticket moved to Qualified." in html
    assert "New → Qualified" in html and member_a.username in html
    change = StageChange.objects.get()
    assert (change.to_stage, change.by) == ("qualified", member_a)


def test_a_move_from_the_list_over_htmx_returns_the_row(attributed, member_client):
    url = reverse("leads:ticket_stage", args=[attributed.pk])

    response = member_client.post(
        url, {"stage": "lost", "view": "row", "next": INDEX}, headers=HTMX
    )

    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="ticket-{attributed.pk}"')
    assert 'data-stage="lost"' in html
    assert "Plano mensal · Leads" in html


def test_won_from_the_list_without_a_value_asks_for_it(attributed, member_client):
    url = reverse("leads:ticket_stage", args=[attributed.pk])

    response = member_client.post(url, {"stage": "won", "view": "row"}, headers=HTMX)

    html = response.content.decode()
    assert "Enter the deal value and currency" in html
    assert 'name="value"' in html and 'name="currency"' in html
    assert '<option value="won" selected>' in html
    attributed.refresh_from_db()
    assert attributed.stage == "new"

    response = member_client.post(
        url,
        {"stage": "won", "view": "row", "value": "1188,50", "currency": "BRL"},
        headers=HTMX,
    )
    attributed.refresh_from_db()
    assert (attributed.stage, attributed.deal_value, attributed.currency) == (
        "won",
        Decimal("1188.50"),
        "BRL",
    )
    assert "1188.50 BRL" in response.content.decode()


def test_without_javascript_a_move_redirects_back_with_a_message(attributed, member_client):
    url = reverse("leads:ticket_stage", args=[attributed.pk])

    response = member_client.post(url, {"stage": "qualified", "next": f"{INDEX}?stage=new"})

    assert response.status_code == 302 and response["Location"] == f"{INDEX}?stage=new"
    page = member_client.get(response["Location"]).content.decode()
    assert "Ticket moved to Qualified." in page


def test_without_javascript_won_without_value_goes_to_the_won_form(attributed, member_client):
    url = reverse("leads:ticket_stage", args=[attributed.pk])

    response = member_client.post(url, {"stage": "won", "next": INDEX})

    ticket_url = reverse("leads:ticket", args=[attributed.pk])
    assert response["Location"] == f"{ticket_url}#won"
    page = member_client.get(ticket_url).content.decode()
    assert "Enter the deal value and currency" in page
    assert 'id="won"' in page


def test_a_bad_value_or_an_offsite_next_is_refused(attributed, member_client):
    url = reverse("leads:ticket_stage", args=[attributed.pk])
    response = member_client.post(
        url, {"stage": "won", "value": "-3", "currency": "BRL"}, headers=HTMX
    )
    assert "positive amount" in response.content.decode()
    response = member_client.post(url, {"stage": "lost", "next": "https://evil.example/"})
    assert response["Location"] == reverse("leads:ticket", args=[attributed.pk])


def test_stage_moves_need_the_csrf_token(attributed, member_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member_a)
    response = client.post(reverse("leads:ticket_stage", args=[attributed.pk]), {"stage": "lost"})
    assert response.status_code == 403
    assert not StageChange.objects.exists()


def test_stage_moves_only_take_posts(attributed, member_client):
    response = member_client.get(reverse("leads:ticket_stage", args=[attributed.pk]))
    assert response.status_code == 405


# --- settings ------------------------------------------------------------------------------


def test_members_read_the_settings_but_cannot_change_them(member_client, tenant_a):
    page = member_client.get(INDEX).content.decode()
    assert "An open ticket expires after 7 days without messages." in page
    response = member_client.post(
        reverse("leads:settings"), {"ticket_expiration_days": 3, "default_currency": "USD"}
    )
    assert response.status_code == 403
    assert not LeadSettings.objects.exists()


def test_an_admin_changes_the_expiration(owner_client, tenant_a, owner_a):
    page = owner_client.get(INDEX).content.decode()
    assert 'name="ticket_expiration_days"' in page

    response = owner_client.post(
        reverse("leads:settings"),
        {"ticket_expiration_days": 3, "default_currency": "USD"},
        headers=HTMX,
    )

    assert "Lead settings saved." in response.content.decode()
    row = LeadSettings.objects.get(tenant=tenant_a)
    assert (row.ticket_expiration_days, row.default_currency, row.updated_by) == (3, "USD", owner_a)
    page = owner_client.get(reverse("leads:index")).content.decode()
    assert 'value="3"' in page


@pytest.mark.parametrize("days", [0, 366, "x"])
def test_impossible_expirations_are_refused(owner_client, tenant_a, days):
    response = owner_client.post(
        reverse("leads:settings"), {"ticket_expiration_days": days, "default_currency": "BRL"}
    )
    assert response.status_code == 302
    assert not LeadSettings.objects.exists()
    page = owner_client.get(INDEX).content.decode()
    assert "The settings were not saved" in page


def test_the_won_form_defaults_to_the_tenants_currency(attributed, member_client, tenant_a):
    LeadSettings.objects.create(tenant=tenant_a, default_currency="USD")
    page = member_client.get(reverse("leads:ticket", args=[attributed.pk])).content.decode()
    assert '<option value="USD" selected>' in page
