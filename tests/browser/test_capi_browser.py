"""Issue #9 in a browser: a TikTok lead form becomes a ticket, converts, and shows on the tab.

The owner reads the tenant's lead webhook URL on the Conversions tab; a lead
is posted to it over real HTTP (as TikTok would); the worker's jobs (the
inbox drain, the dispatcher) are run by the test, since no django-q cluster
runs here; the ticket is qualified; the tab shows the event sent to the
conversion pixel, filters the log, sends a test event, resends a failed
event and saves the mapping, all through the page.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from apps.capi.dispatch import dispatch
from apps.capi.models import ConversionEvent, ConversionMapping
from apps.leads.actions import ticket_move_stage
from apps.leads.models import Ticket
from apps.sandbox import generator, grants
from apps.sandbox.views.capi import accepted_count
from apps.tiktok_ads.models import TikTokAdsConnection, TikTokAdvertiser, TikTokPixel
from apps.webhooks.services import drain

from .test_connect_browser import sandbox_on_live_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def process_cache(settings):
    """The cache in process memory, shared by the test and the live server's thread.

    The inbox runs a handler inside a transaction; on the in-memory SQLite test
    database the lead re-fetch, answered by the sandbox in the live server's
    thread, would find the database cache table locked by that transaction.
    """
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


LEAD_ID = "7301234567890123457"  # odd: the sandbox's lead carries a ttclid


def tiktok_connected(tenant) -> str:
    """Tenant's TikTok Ads connection with a real sandbox token, an advertiser, a chosen pixel."""
    account = generator.identities("tiktok_ads")[0].account_id
    grant = grants.issue_code(provider="tiktok_ads", account_id=account, scopes=[])
    grants.redeem_code(provider="tiktok_ads", code=grant.code)
    grant.refresh_from_db()
    token = grants.mint_tokens(grant, access_ttl=None).access_token
    connection = TikTokAdsConnection.objects.create(tenant=tenant, access_token=token)
    advertiser = generator.advertisers(account)[0]
    now = timezone.now()
    TikTokAdvertiser.objects.create(
        tenant=tenant,
        connection=connection,
        advertiser_id=advertiser["advertiser_id"],
        name=advertiser["name"],
        synced_at=now,
    )
    pixel = generator.pixels(advertiser["advertiser_id"])[0]
    TikTokPixel.objects.create(
        tenant=tenant,
        connection=connection,
        advertiser_id=advertiser["advertiser_id"],
        pixel_id=pixel["pixel_id"],
        pixel_code=pixel["pixel_code"],
        name=pixel["pixel_name"],
        is_conversion_pixel=True,
        synced_at=now,
    )
    return advertiser["advertiser_id"]


def lead_delivery(advertiser_id: str) -> bytes:
    return json.dumps(
        {
            "request_id": "20261123041500ABCDEF0123456789ABCD",
            "object": 1,
            "time": int(timezone.now().timestamp()),
            "entry": [
                {
                    "id": LEAD_ID,
                    "lead_source": "INSTANT_FORM",
                    "advertiser_id": advertiser_id,
                    "create_time": int(timezone.now().timestamp()),
                    "changes": [{"field": "email", "value": "someone@example.com"}],
                }
            ],
        }
    ).encode()


def test_lead_form_to_conversion_on_the_conversions_tab(
    page,
    log_in,
    owner_a,
    tenant_a,
    process_cache,
    sandbox_on_live_server,  # noqa: F811
):
    advertiser_id = tiktok_connected(tenant_a)
    log_in("owner@acme.example")
    page.goto("/integrations/?tab=conversions")
    expect(page.get_by_role("heading", name="Destinations")).to_be_visible()
    pixel_row = page.locator("tr[data-destination^='tiktok:']")
    expect(pixel_row).to_contain_text("Website pixel 1")

    # TikTok posts a lead to the URL the tab shows.
    url = page.locator(".capi-lead-url").inner_text()
    assert url.startswith(f"{sandbox_on_live_server}/webhooks/tiktok-ads/")
    answer = requests.post(
        url,
        data=lead_delivery(advertiser_id),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert drain().processed == 1  # the worker's job: re-fetch the lead, open the ticket
    ticket = Ticket.objects.get()
    assert ticket.channel == "tiktok_lead_form"

    # A person qualifies the ticket; the worker dispatches the Lead event.
    ticket_move_stage(ticket=ticket, to_stage="qualified", user=owner_a)
    assert dispatch().sent == 1
    assert accepted_count("tiktok", f"lead-{ticket.pk}") == 1

    page.goto("/integrations/?tab=conversions")
    log = page.locator("table.capi-events")
    row = log.locator(f"tr[data-event='lead-{ticket.pk}']")
    expect(row).to_contain_text("Lead")
    expect(row).to_contain_text("Sent")
    expect(page.locator("tr[data-destination^='tiktok:'] td.num").first).to_have_text("1")

    # Filters narrow the log (htmx swaps the panel; the URL follows).
    page.get_by_label("Status").select_option("failed")
    expect(page.get_by_text("No conversion event matches.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"status=failed"))
    page.get_by_label("Status").select_option("")
    expect(page.locator(f"tr[data-event='lead-{ticket.pk}']")).to_be_visible()

    # A test event with the code from TikTok's Events Manager.
    pixel_row = page.locator("tr[data-destination^='tiktok:']")
    pixel_row.get_by_label("Test event code").fill("TEST31337")
    pixel_row.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("Test event sent to")).to_be_visible()

    # A failed event is resent from the log, with the same event id.
    ConversionEvent.objects.filter(pk=ConversionEvent.objects.get().pk).update(
        status="failed", error_message="HTTP 500 from the platform"
    )
    page.goto("/integrations/?tab=conversions&status=failed")
    page.get_by_label(f"Resend lead-{ticket.pk}").check()
    page.get_by_role("button", name="Resend selected failed events").click()
    expect(page.get_by_text("1 event queued again.")).to_be_visible()
    assert ConversionEvent.objects.get().status == "pending"
    assert dispatch().sent == 1
    assert accepted_count("tiktok", f"lead-{ticket.pk}") == 2  # TikTok dedupes on the event id

    # The mapping: TikTok's legacy name for pixels set up before 2025.
    page.goto("/integrations/?tab=conversions")
    page.locator("#m-tiktok_qualified").select_option("SubmitForm")
    page.get_by_role("button", name="Save events").click()
    expect(page.get_by_text("Conversion events saved.")).to_be_visible()
    assert ConversionMapping.objects.get(tenant=tenant_a).tiktok_qualified == "SubmitForm"
