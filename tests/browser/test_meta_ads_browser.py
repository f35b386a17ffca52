"""Meta in a real browser: two profiles, one shared ad account, tracking and its pixel, a
WhatsApp number, and a signed click-to-WhatsApp webhook fired at the live hub.

The sandbox answers over HTTP on the live server. The django-q cluster does
not run here: the test drains the webhook inbox itself, as a worker would.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from apps.meta_ads.models import MetaAdAccount
from apps.sandbox import generator, meta_data
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import drain

from .test_connect_browser import sandbox_on_live_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def log_in_to_facebook_as(page, who) -> None:
    """The sandbox's Facebook Login: pick the user, then authorize every permission asked."""
    page.get_by_label("Continue as").select_option(who.account_id)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url("**/integrations/?tab=meta")


def test_two_profiles_one_account_tracking_pixel_and_a_click_to_whatsapp_webhook(
    page,
    log_in,
    owner_a,
    live_server,
    sandbox_on_live_server,  # noqa: F811
):
    first, second = generator.identities("meta")[:2]
    shared = meta_data.ad_accounts()[1]
    pixel = meta_data.pixels(shared.account_id)[1]

    log_in("owner@acme.example")
    page.goto("/integrations/?tab=meta")
    card = page.locator("#card-meta_ads")
    card.get_by_role("button", name="Connect").click()
    log_in_to_facebook_as(page, first)
    expect(page.get_by_text("Meta connected.")).to_be_visible()

    page.locator("#card-meta_ads").get_by_role("button", name="Connect another profile").click()
    log_in_to_facebook_as(page, second)

    # The shared account is listed once, reached by both profiles.
    card = page.locator("#card-meta_ads")
    row = card.locator(f'li[data-account="{shared.account_id}"]')
    expect(row).to_have_count(1)
    expect(row.locator(".meta-reached-by")).to_contain_text(first.name)
    expect(row.locator(".meta-reached-by")).to_contain_text(second.name)

    # Tracking on (htmx swaps the row), then the pixel picker lists the account's pixels.
    row.get_by_role("switch").click()
    row = page.locator(f'li[data-account="{shared.account_id}"]')
    expect(row.get_by_text("Tracking turned on")).to_be_visible()
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    row.get_by_label("Pixel / dataset").select_option(pixel["id"])
    row.get_by_role("button", name="Save pixel").click()
    row = page.locator(f'li[data-account="{shared.account_id}"]')
    expect(row.get_by_text(f"Pixel set to {pixel['name']}.")).to_be_visible()
    account = MetaAdAccount.objects.get(account_id=shared.account_id)
    assert (account.tracking_enabled, account.pixel_id) == (True, pixel["id"])

    # A WhatsApp number, registered on its page, routes the webhooks to this tenant.
    page.locator("#card-meta_ads").get_by_role("link", name="Manage WhatsApp numbers").click()
    page.get_by_label("Phone number id").fill("109876543210987")
    page.get_by_label("WhatsApp Business Account id").fill("104523789012345")
    page.get_by_label("Phone number", exact=True).fill("+55 11 93000-1000")
    page.get_by_role("button", name="Register number").click()
    expect(page.get_by_text("WhatsApp number +55 11 93000-1000 registered.")).to_be_visible()

    out = StringIO()
    call_command("sandbox_fire_whatsapp", "--url", f"{live_server.url}/webhooks/meta/", stdout=out)
    assert "HTTP 200" in out.getvalue()
    result = drain(batch_size=10)
    event = WebhookEvent.objects.get()
    assert result.processed == 1, event.last_error
    assert event.tenant_id == owner_a.memberships.get().tenant_id
