import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_log_in_see_the_cards_and_switch_tabs(page, log_in, owner_a):
    log_in("owner@acme.example")

    expect(page.get_by_role("heading", name="Integrations", level=1)).to_be_visible()
    tiktok_cards = page.locator("article.card")
    expect(tiktok_cards).to_have_count(3)
    for name in ("TikTok Ads", "TikTok Shop", "TikTok Content"):
        expect(page.get_by_role("heading", name=name)).to_be_visible()

    page.get_by_role("tab", name="Meta").click()
    expect(page.get_by_role("tab", name="Meta")).to_have_attribute("aria-selected", "true")
    expect(page.locator("article.card")).to_have_count(1)
    expect(page.locator("#card-meta_ads")).to_be_visible()
    # htmx swapped the panel in place and pushed the tab into the address bar.
    assert page.url.endswith("?tab=meta")

    page.get_by_role("tab", name="Sync history").click()
    expect(page.get_by_text("No sync has run for this tenant.")).to_be_visible()

    page.go_back()
    expect(page.locator("#card-meta_ads")).to_be_visible()


def test_tabs_work_without_javascript(chromium_browser, live_server, owner_a):
    context = chromium_browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("owner@acme.example")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("tab", name="Meta").click()
    expect(page.locator("#card-meta_ads")).to_be_visible()
    assert "?tab=meta" in page.url
    context.close()
