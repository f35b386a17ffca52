"""Acceptance 2: connect TikTok Ads, choose the pixel, sync, read spend, pause a campaign.

Everything goes through a real browser and the sandbox answering over HTTP on
the live server. The django-q cluster does not run here: connecting (and "Sync
now") queues the runs as in production, then the test does the worker's job and
executes the queued runs itself (``sync_run_execute``) while the card polls.
"""

import re

import pytest
from playwright.sync_api import expect

from apps.integrations.models import AuditEntry, SyncRun
from apps.integrations.sync import sync_run_execute
from apps.sandbox import generator
from apps.tiktok_ads.models import TikTokAdsCampaign, TikTokPixel

from .test_connect_browser import sandbox_on_live_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def run_queued_syncs() -> list[SyncRun]:
    """What a qcluster worker would do with the runs "Sync now" queued."""
    runs = list(SyncRun.objects.filter(product="tiktok_ads", status=SyncRun.Status.QUEUED))
    assert runs, "nothing was queued"
    for run in sorted(runs, key=lambda r: r.pk):
        sync_run_execute(run_id=run.pk)
    return list(SyncRun.objects.filter(pk__in=[r.pk for r in runs]).order_by("pk"))


def test_connect_sync_read_spend_and_pause_a_campaign(
    page,
    log_in,
    owner_a,
    sandbox_on_live_server,  # noqa: F811
):
    log_in("owner@acme.example")
    page.goto("/integrations/?tab=tiktok")
    card = page.locator("#card-tiktok_ads")
    expect(card.get_by_text("Not connected")).to_be_visible()

    # Choose the packs: what the Ads page needs, without audiences.
    for pack in ("Read ads", "Manage ads", "Reporting", "Pixel and Events API"):
        card.get_by_label(pack).check()
    card.get_by_label("Audiences").uncheck()
    card.get_by_role("button", name="Connect").click()
    page.get_by_role("button", name="Authorize").click()

    page.wait_for_url("**/integrations/?tab=tiktok")
    expect(page.get_by_text("TikTok Ads connected.")).to_be_visible()
    card = page.locator("#card-tiktok_ads")
    expect(card.locator(".badge").first).to_have_text("Connected")
    account = generator.identities("tiktok_ads")[0].account_id
    advertisers = generator.advertisers(account)
    expect(card.get_by_text(advertisers[0]["name"])).to_be_visible()

    # Connecting queued the first sync of every kind: the card polls while it runs.
    expect(card.get_by_role("button", name="Syncing…")).to_be_disabled()
    runs = run_queued_syncs()
    assert {r.kind for r in runs} >= {"advertisers", "pixels", "campaigns", "insights"}
    assert [r.error for r in runs if r.status != SyncRun.Status.SUCCEEDED] == []
    card = page.locator("#card-tiktok_ads")
    expect(card.get_by_role("button", name="Sync now")).to_be_visible(timeout=10_000)

    page.goto("/integrations/?tab=tiktok")
    card = page.locator("#card-tiktok_ads")
    for advertiser in advertisers:
        expect(card.get_by_label(re.compile(re.escape(advertiser["name"])))).to_be_checked()
    pixel = generator.pixels(advertisers[0]["advertiser_id"])[0]
    card.get_by_label("Conversion pixel").select_option(
        label=f"{pixel['pixel_name']} · {advertisers[0]['name']}"
    )
    card.get_by_role("button", name="Save pixel").click()
    card = page.locator("#card-tiktok_ads")
    expect(card.get_by_text(f"Conversion pixel set to {pixel['pixel_name']}.")).to_be_visible()
    assert TikTokPixel.objects.get(is_conversion_pixel=True).pixel_id == pixel["pixel_id"]

    # Sync now: the runs are queued again and the card says so.
    card.get_by_role("button", name="Sync now").click()
    expect(page.locator("#card-tiktok_ads").get_by_text("Sync started.")).to_be_visible()
    assert all(r.status == SyncRun.Status.SUCCEEDED for r in run_queued_syncs())

    card.get_by_role("link", name="Open the Ads page").click()
    page.wait_for_url("**/integrations/tiktok-ads/")
    expect(page.get_by_role("heading", name="TikTok Ads", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^Campaigns, "))).to_be_visible()
    currencies = "|".join(sorted({a["currency"] for a in advertisers}))
    totals = page.locator("table.report tfoot tr.totals").first
    expect(totals).to_contain_text(re.compile(rf"[1-9][\d,.]* ({currencies})"))

    # The biggest spender that is running: pause it, and the row says so.
    row = page.locator("tr.report-row[data-status=ENABLE]").first
    row_id = row.get_attribute("id")
    campaign_id = row_id.removeprefix("campaign-")
    expect(row.get_by_text("Active", exact=True)).to_be_visible()
    row.get_by_role("button", name=re.compile("^Pause")).click()
    row = page.locator(f"#{row_id}")
    expect(row.get_by_text("Paused", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name=re.compile("^Resume"))).to_be_visible()
    expect(row.get_by_role("status")).to_contain_text("paused.")

    assert TikTokAdsCampaign.objects.get(campaign_id=campaign_id).operation_status == "DISABLE"
    entry = AuditEntry.objects.get(object_id=campaign_id)
    assert (entry.user, entry.action, entry.outcome) == (owner_a, "set_status", "succeeded")

    # Without JavaScript the page is the same: a reload still shows the campaign paused.
    page.reload()
    expect(page.locator(f"#{row_id}").get_by_text("Paused", exact=True)).to_be_visible()
