"""htmx works under the Content-Security-Policy, and a violation would be caught.

Every browser test's ``page`` fixture fails on a CSP violation (see
``conftest.py``); these tests check the policy is really enforced by the
browser and that the fixture's listener does see violations.
"""

import pytest
from playwright.sync_api import expect

from .conftest import CSP_LISTENER

pytestmark = pytest.mark.django_db(transaction=True)


def test_htmx_swaps_under_the_policy(page, log_in, owner_a):
    log_in("owner@acme.example")
    response = page.request.get("/integrations/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.evaluate("htmx.config.allowEval") is False

    page.get_by_role("tab", name="Meta").click()
    expect(page.locator("#card-meta_ads")).to_be_visible()
    assert page.url.endswith("?tab=meta")
    # htmx's request indicator rules come from hub.css, not from an injected <style>.
    assert page.locator("head style").count() == 0
    hidden = page.evaluate(
        """() => { const el = document.createElement("span"); el.className = "htmx-indicator";
        document.body.append(el); return getComputedStyle(el).visibility; }"""
    )
    assert hidden == "hidden"


def test_inline_code_is_blocked_and_reported(chromium_browser, live_server, owner_a):
    """The negative control: what the page fixture listens for does happen on a violation."""
    context = chromium_browser.new_context(base_url=live_server.url)
    violations: list[str] = []
    context.expose_binding("__cspViolation", lambda source, text: violations.append(text))
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.goto("/accounts/login/")
    ran = page.evaluate(
        """() => { window.__inline = false;
        const s = document.createElement("script"); s.textContent = "window.__inline = true";
        document.head.append(s); return window.__inline; }"""
    )
    page.wait_for_timeout(200)
    context.close()
    assert ran is False
    assert any("script-src" in v for v in violations), violations
