"""Connect, test and disconnect a product in a real browser, the sandbox answering over HTTP."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox_on_live_server(settings, live_server):
    """Point the hub and every provider URL at the live server's sandbox."""
    base = live_server.url
    sandbox = f"{base}/sandbox"
    settings.PUBLIC_BASE_URL = base
    settings.SANDBOX_BASE_URL = sandbox
    settings.TIKTOK_ADS_API_BASE = f"{sandbox}/tiktok-ads"
    settings.TIKTOK_ADS_AUTH_URL = f"{sandbox}/tiktok-ads/portal/auth"
    settings.TIKTOK_SHOP_API_BASE = f"{sandbox}/tiktok-shop/open-api"
    settings.TIKTOK_SHOP_AUTH_BASE = f"{sandbox}/tiktok-shop/auth"
    settings.TIKTOK_SHOP_AUTHORIZE_URL = f"{sandbox}/tiktok-shop/services/open/authorize"
    settings.TIKTOK_CONTENT_API_BASE = f"{sandbox}/tiktok-content/api"
    settings.TIKTOK_CONTENT_AUTHORIZE_URL = f"{sandbox}/tiktok-content/v2/auth/authorize"
    settings.META_GRAPH_BASE = f"{sandbox}/meta/graph"
    settings.META_DIALOG_URL = f"{sandbox}/meta/dialog/oauth"
    return base


def test_connect_test_and_disconnect_tiktok_content(page, log_in, owner_a, sandbox_on_live_server):
    log_in("owner@acme.example")
    card = page.locator("#card-tiktok_content")
    expect(card.get_by_text("Not connected")).to_be_visible()

    card.get_by_role("button", name="Connect").click()
    # The provider's consent screen (emulated), with the scopes the packs asked for.
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    expect(page.locator("input[name=scopes][value='video.list']")).to_be_checked()
    page.get_by_role("button", name="Authorize").click()

    page.wait_for_url("**/integrations/?tab=tiktok")
    expect(page.get_by_text("TikTok Content connected.")).to_be_visible()
    card = page.locator("#card-tiktok_content")
    expect(card.locator(".badge").first).to_have_text("Connected")
    expect(card.get_by_text("Videos and metrics: granted")).to_be_visible()

    card.get_by_role("button", name="Test connection").click()
    expect(page.locator("#card-tiktok_content").get_by_text("Connection works")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#card-tiktok_content").get_by_role("button", name="Disconnect").click()
    card = page.locator("#card-tiktok_content")
    expect(card.get_by_text("Disconnected. Synced data is kept.")).to_be_visible()
    expect(card.locator(".badge").first).to_have_text("Disconnected")


def test_denied_consent_comes_back_with_a_message(page, log_in, owner_a, sandbox_on_live_server):
    log_in("owner@acme.example")
    page.locator("#card-tiktok_ads").get_by_role("button", name="Connect").click()
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url("**/integrations/?tab=tiktok")
    expect(page.get_by_text("The authorization was declined")).to_be_visible()
    expect(page.locator("#card-tiktok_ads").get_by_text("Not connected")).to_be_visible()
