"""Issue #10 in a browser: the ROI dashboard over htmx, drill-down and CSV export.

The owner opens the ROI dashboard on the hand-computed fixture (a BRL Meta
account, a USD TikTok advertiser, tickets qualified and won), changes the date
range and the platform (htmx swaps the table and pushes the URL; the page is
never reloaded), drills down from a campaign to its ad set and its ads, and
exports the CSV, whose rows must be the rows on screen.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.analytics.tests.factories import hand_computed_fixture
from apps.tenants.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)

MARCH = "range=custom&start=2026-03-01&end=2026-03-31"


def _settled(page) -> None:
    """Wait until htmx has no request in flight and nothing swapping or settling."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def _rows(page) -> list[list[str]]:
    """The currency groups' rows of the ROI table as shown (name without its id hint)."""
    return page.eval_on_selector_all(
        "#roi-table tr.roi-row, #roi-table tr.total-row",
        """rows => rows.map(row => Array.from(row.children).map((cell, i) => {
            if (i === 0) {
              const link = cell.querySelector('a');
              return (link ? link.textContent : cell.childNodes[0].textContent).trim();
            }
            return cell.textContent.trim();
        }))""",
    )


def test_roi_dashboard_htmx_drill_down_and_csv(page, log_in, make_tenant, make_member):
    tenant = make_tenant("roi-browser", "ROI Browser")
    make_member(tenant, Membership.Role.OWNER, "owner@roi.example")
    hand_computed_fixture(tenant)
    log_in("owner@roi.example")

    page.get_by_role("link", name="ROI", exact=True).click()
    page.wait_for_url("**/analytics/roi/")
    page.goto(f"/analytics/roi/?{MARCH}")
    table = page.locator("#roi-table")
    expect(table.locator("tr.roi-row[data-key='MC1']")).to_contain_text("170.15")
    expect(table.locator("tbody[data-currency='USD'] tr.total-row")).to_contain_text("350.49")
    page.evaluate("window.__notReloaded = true")
    _settled(page)

    # the date range, through htmx: from March 3rd MC1 has neither spend nor tickets
    page.locator("#filter-start").fill("2026-03-03")
    page.wait_for_url("**start=2026-03-03**")
    expect(table.locator("tr.roi-row[data-key='MC1']")).to_have_count(0)
    expect(table.locator("tr.roi-row[data-key='MC2']").first).to_contain_text("33.33")
    _settled(page)
    page.locator("#filter-start").fill("2026-03-01")
    page.wait_for_url("**start=2026-03-01**")
    expect(table.locator("tr.roi-row[data-key='MC1']")).to_contain_text("170.15")
    _settled(page)

    # the platform, through htmx
    page.locator("#filter-platform").select_option("tiktok")
    page.wait_for_url("**platform=tiktok**")
    expect(table.locator("tr.roi-row")).to_have_count(1)
    expect(table.locator("tr.roi-row[data-key='TC1']")).to_contain_text("TikTok Launch")
    expect(table.locator("tr.roi-row[data-key='TC1']")).to_contain_text("99.99")
    _settled(page)
    page.locator("#filter-platform").select_option("meta")
    page.wait_for_url("**platform=meta**")
    expect(table.locator("tr.roi-row[data-key='TC1']")).to_have_count(0)
    _settled(page)

    # drill down: campaign -> ad set -> ads
    page.get_by_role("link", name="Campaign MC1").click()
    page.wait_for_url("**campaign=MC1**")
    expect(page.locator(".breadcrumbs")).to_contain_text("Campaign MC1")
    expect(table.locator("tr.roi-row[data-key='MS1']")).to_contain_text("170.15")
    _settled(page)
    page.get_by_role("link", name="Ad set MS1").click()
    page.wait_for_url("**adset=MS1**")
    expect(table.locator("tr.roi-row")).to_have_count(2)
    expect(table.locator("tr.roi-row[data-key='MA1']")).to_contain_text("150.15")
    expect(table.locator("tr.roi-row[data-key='MA2']")).to_contain_text("20.00")
    _settled(page)
    assert page.evaluate("window.__notReloaded === true"), "htmx should swap, not reload"

    # the funnel and the daily chart are drawn as SVG for the drilled-down view
    expect(page.locator("figure.funnel g.funnel-step")).to_have_count(3)
    expect(page.locator("figure.funnel g.funnel-step").first).to_have_attribute("data-count", "3")

    # export what is shown
    shown = _rows(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == "roi-ad-2026-03-01-2026-03-31.csv"
    content = Path(download.path()).read_text(encoding="utf-8")
    header, *exported = list(csv.reader(io.StringIO(content)))
    assert header[:5] == ["Level", "Platform", "ID", "Name", "Currency"]
    assert [r[2] for r in exported] == ["MA1", "MA2", ""]
    for on_screen, row in zip(shown, exported, strict=True):
        level, platform, _key, name, currency, *numbers = row
        assert on_screen[0] == ("Total" if level == "total" else name)
        assert on_screen[1:3] == [platform, currency]
        assert on_screen[3:] == [n or "—" for n in numbers]
    assert exported[0][5] == "150.15" and exported[0][11] == "1000.00"

    # a plain reload of the pushed URL renders the same table without htmx
    page.reload()
    expect(table.locator("tr.roi-row[data-key='MA1']")).to_contain_text("150.15")
