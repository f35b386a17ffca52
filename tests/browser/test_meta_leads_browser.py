"""Acceptance 5 of issue #8: from two Facebook profiles to a qualified WhatsApp lead.

Connect two sandbox Facebook profiles, switch on tracking for the ad account
they share and pick its pixel, register the WhatsApp number, fire a signed
click-to-WhatsApp webhook at the live server (the sandbox command, over real
HTTP), see the ticket on the Leads page with the campaign and ad names, and
move it to Qualified.

The django-q cluster does not run here: the test does the worker's jobs
itself, as the other browser tests do (the queued sync runs, the webhook
inbox drain, then the ticket's ad lookup, which calls the sandbox's Graph API
through the Meta app's enricher).
"""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from apps.integrations.models import AuditEntry, SyncRun
from apps.integrations.sync import sync_run_execute
from apps.leads import tasks as leads_tasks
from apps.leads.models import StageChange, Ticket, TicketTracking
from apps.meta_ads.models import MetaAdAccount
from apps.sandbox import generator, meta_data
from apps.sandbox.views.meta import META
from apps.webhooks.services import drain

from .test_connect_browser import sandbox_on_live_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_NUMBER_ID = "109876543210987"
WABA_ID = "104523789012345"


def run_queued_syncs() -> list[SyncRun]:
    """What a qcluster worker would do with the runs connecting queued."""
    runs = list(SyncRun.objects.filter(product="meta_ads", status=SyncRun.Status.QUEUED))
    assert runs, "nothing was queued"
    for run in sorted(runs, key=lambda r: r.pk):
        sync_run_execute(run_id=run.pk)
    return list(SyncRun.objects.filter(pk__in=[r.pk for r in runs]).order_by("pk"))


def run_pending_lookups() -> list[str]:
    """What the worker does with the enrichment tasks the drain queued."""
    pending = TicketTracking.objects.filter(enrichment_status="pending")
    return [
        leads_tasks.enrich_tracking(pk, ad_id) for pk, ad_id in pending.values_list("pk", "ad_id")
    ]


def connect_profile(page, account_id: str, name: str, *, button: str) -> None:
    page.goto("/integrations/?tab=meta")
    card = page.locator("#card-meta_ads")
    expect(card.locator("form.connect-form input[name=packs][value=meta_ads]")).to_be_checked()
    card.get_by_role("button", name=button).click()
    page.get_by_label("Continue as").select_option(account_id)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text(f"Continuing as {name}")).to_be_visible()
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url("**/integrations/?tab=meta")
    runs = run_queued_syncs()
    assert [r.error for r in runs if r.status != SyncRun.Status.SUCCEEDED] == []


def test_two_profiles_a_tracked_account_and_a_whatsapp_click_become_a_qualified_lead(
    page,
    log_in,
    owner_a,
    sandbox_on_live_server,  # noqa: F811
):
    first, second = generator.identities(META)[:2]
    ad = meta_data.default_ad()
    account = meta_data.ad_account(ad.account_id)
    pixel = meta_data.pixels(ad.account_id)[1]
    log_in("owner@acme.example")

    # 1. Two Facebook profiles; the account both reach is listed once, reached by both.
    connect_profile(page, first.account_id, first.name, button="Connect")
    connect_profile(page, second.account_id, second.name, button="Connect another profile")
    page.goto("/integrations/?tab=meta")
    card = page.locator("#card-meta_ads")
    for who in (first, second):
        expect(card.locator(".connection-head").get_by_text(who.name)).to_be_visible()
    row = card.locator(f"li.meta-account[data-account='{account.account_id}']")
    expect(row).to_have_count(1)
    expect(row.locator(".meta-reached-by")).to_contain_text(first.name)
    expect(row.locator(".meta-reached-by")).to_contain_text(second.name)

    # 2. Tracking on for that account, then its pixel / dataset.
    row.get_by_role("switch", name=f"Tracking of {account.name}").click()
    row = page.locator(f"li.meta-account[data-account='{account.account_id}']")
    expect(row.get_by_text("Tracking turned on: choose the pixel or dataset.")).to_be_visible()
    row.get_by_label("Pixel / dataset").select_option(pixel["id"])
    row.get_by_role("button", name="Save pixel").click()
    row = page.locator(f"li.meta-account[data-account='{account.account_id}']")
    expect(row.get_by_role("status")).to_have_text(f"Pixel set to {pixel['name']}.")
    expect(row.get_by_label("Pixel / dataset")).to_have_value(pixel["id"])
    tracked = MetaAdAccount.objects.get(account_id=account.account_id)
    assert (tracked.tracking_enabled, tracked.pixel_id) == (True, pixel["id"])

    # 3. The tenant's WhatsApp number, so webhooks route to it.
    card.get_by_role("link", name="Manage WhatsApp numbers").click()
    page.get_by_label("Phone number id", exact=True).fill(PHONE_NUMBER_ID)
    page.get_by_label("WhatsApp Business Account id", exact=True).fill(WABA_ID)
    page.get_by_label("Phone number", exact=True).fill("5511930001000")
    page.get_by_role("button", name="Register number").click()
    expect(page.get_by_text("WhatsApp number 5511930001000 registered.")).to_be_visible()

    # 4. A customer clicks the ad: Meta's signed webhook reaches the live server.
    call_command(
        "sandbox_fire_whatsapp",
        phone_number_id=PHONE_NUMBER_ID,
        ad_id=ad.ad_id,
        text="Olá! Quero saber mais.",
    )
    result = drain()
    assert (result.processed, result.failed, result.unroutable) == (1, 0, 0)
    assert run_pending_lookups() == ["completed"]

    # 5. The Leads page shows the ticket with its campaign and ad.
    page.get_by_role("link", name="Leads", exact=True).click()
    page.wait_for_url("**/leads/")
    ticket = Ticket.objects.get()
    ticket_row = page.locator(f"#ticket-{ticket.pk}")
    expect(ticket_row.get_by_role("link", name="Ana Souza")).to_be_visible()
    expect(ticket_row.locator(".campaign-name")).to_have_text(ad.campaign_name)
    expect(ticket_row.locator(".ad-name")).to_have_text(ad.name)
    expect(ticket_row.get_by_text("New", exact=True)).to_be_visible()

    # 6. Its page: the attribution in full, then a move to Qualified.
    ticket_row.get_by_role("link", name="Ana Souza").click()
    page.wait_for_url(f"**/leads/tickets/{ticket.pk}/")
    attribution = page.locator("section.attribution")
    expect(attribution.locator("dd.campaign")).to_contain_text(ad.campaign_name)
    expect(attribution.locator("dd.adset")).to_contain_text(ad.adset_name)
    expect(attribution.locator("dd.ad")).to_contain_text(ad.name)
    expect(attribution.locator("dd.click-id")).to_contain_text("present")
    expect(attribution.locator("dd.enrichment")).to_contain_text("Completed")
    expect(page.locator(".messages-list")).to_contain_text("Olá! Quero saber mais.")

    page.get_by_role("button", name="Move to Qualified").click()
    panel = page.locator("#ticket-stage")
    expect(panel.get_by_role("status")).to_have_text("Ticket moved to Qualified.")
    expect(panel.locator(".current-stage")).to_contain_text("Qualified")
    expect(panel.locator(".stage-history")).to_contain_text(
        re.compile(rf"New → Qualified, by {re.escape(owner_a.username)}")
    )

    change = StageChange.objects.get()
    assert (change.ticket_id, change.from_stage, change.to_stage, change.by) == (
        ticket.pk,
        "new",
        "qualified",
        owner_a,
    )
    assert AuditEntry.objects.filter(product="leads", user=owner_a).count() == 1

    # Without JavaScript the page is the same: a reload still shows Qualified.
    page.reload()
    expect(page.locator("#ticket-stage .current-stage")).to_contain_text("Qualified")
