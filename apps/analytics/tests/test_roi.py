"""The ROI dashboard against a hand-computed fixture (acceptance 1)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.analytics import selectors
from apps.analytics.filters import Filters
from apps.analytics.models import ExchangeRate
from apps.analytics.rollup import rollup_refresh

from .factories import (
    EXPECTED,
    EXPECTED_TOTALS,
    hand_computed_fixture,
    meta_account,
    meta_insight,
    ticket,
)

pytestmark = pytest.mark.django_db

MARCH = {"range": "custom", "start": "2026-03-01", "end": "2026-03-31"}
TODAY = date(2026, 4, 10)


def report(tenant, **query):
    return selectors.roi_report(
        tenant=tenant, filters=Filters.from_query({**MARCH, **query}, today=TODAY)
    )


def _fmt(value):
    return None if value is None else str(value)


def as_tuple(row):
    return (
        str(row.spend),
        row.impressions,
        row.clicks,
        row.tickets,
        row.qualified,
        row.won,
        str(row.revenue),
        _fmt(row.cost_per_ticket),
        _fmt(row.cost_per_qualified),
        _fmt(row.roas),
    )


def table(rep):
    return {(g.currency, r.platform, r.key): as_tuple(r) for g in rep.groups for r in g.rows}, {
        g.currency: as_tuple(g.total) for g in rep.groups
    }


def rate(tenant, from_currency: str, to_currency: str, value: str, valid_from: date):
    return ExchangeRate.objects.create(
        tenant=tenant,
        from_currency=from_currency,
        to_currency=to_currency,
        rate=Decimal(value),
        valid_from=valid_from,
    )


@pytest.fixture
def fixture_a(tenant_a):
    hand_computed_fixture(tenant_a)
    return tenant_a


def test_totals_match_the_hand_computed_fixture_to_the_cent_per_currency(fixture_a):
    rows, totals = table(report(fixture_a))
    assert rows == EXPECTED
    assert totals == EXPECTED_TOTALS


def test_names_come_from_the_insights_and_the_tiktok_objects(fixture_a):
    rep = report(fixture_a)
    names = {r.key: r.name for g in rep.groups for r in g.rows}
    assert names == {"MC1": "Campaign MC1", "MC2": "Campaign MC2", "TC1": "TikTok Launch"}


def test_mixed_currencies_without_a_rate_stay_separate_groups(fixture_a):
    rep = report(fixture_a)
    assert [g.currency for g in rep.groups] == ["BRL", "USD"]
    # Asking for BRL without any rate changes nothing but says so.
    rep = report(fixture_a, currency="BRL")
    assert table(rep) == (EXPECTED, EXPECTED_TOTALS)
    assert rep.unconverted == ["USD"]


def test_a_rate_converts_into_one_group(fixture_a, owner_a):
    rate(fixture_a, "USD", "BRL", "5", date(2026, 3, 15))
    rows, totals = table(report(fixture_a, currency="BRL"))
    assert rows == {
        ("BRL", "meta", "MC1"): EXPECTED[("BRL", "meta", "MC1")],
        # 33.33 BRL spent; 250.50 USD * 5 = 1252.50 BRL won
        ("BRL", "meta", "MC2"): ("33.33", 300, 3, 1, 1, 1, "1252.50", "33.33", "33.33", "37.58"),
        # 14.75 USD * 5 = 73.75; 99.99 * 5 = 499.95
        ("BRL", "tiktok", "TC1"): ("73.75", 700, 7, 2, 1, 1, "499.95", "36.88", "73.75", "6.78"),
    }
    assert totals == {
        "BRL": ("277.23", 2700, 27, 6, 5, 3, "2752.45", "46.21", "55.45", "9.93"),
    }


def test_the_rate_valid_on_the_last_day_of_the_range_is_used(fixture_a):
    rate(fixture_a, "USD", "BRL", "4", date(2026, 3, 1))
    rate(fixture_a, "USD", "BRL", "5", date(2026, 3, 15))
    early = {"start": "2026-03-01", "end": "2026-03-10"}
    _, totals = table(report(fixture_a, currency="BRL", **early))
    # 203.48 + 14.75 * 4 = 262.48; 1000 + 350.49 * 4 = 2401.96
    assert totals["BRL"][0] == "262.48" and totals["BRL"][6] == "2401.96"
    _, totals = table(report(fixture_a, currency="BRL"))
    assert totals["BRL"][0] == "277.23" and totals["BRL"][6] == "2752.45"


def test_a_rate_not_yet_valid_is_not_used(fixture_a):
    rate(fixture_a, "USD", "BRL", "5", date(2026, 3, 15))
    rep = report(fixture_a, currency="BRL", start="2026-03-01", end="2026-03-10")
    assert [g.currency for g in rep.groups] == ["BRL", "USD"]
    assert rep.unconverted == ["USD"]
    assert table(rep)[1]["USD"][6] == "350.49"


def test_the_inverse_rate_is_used_when_only_it_is_kept(fixture_a):
    rate(fixture_a, "USD", "BRL", "4", date(2026, 1, 1))
    _, totals = table(report(fixture_a, currency="USD"))
    # 1 USD = 4 BRL, so 1 BRL = 0.25 USD: 203.48 BRL = 50.87 USD, + 14.75 USD spent on TikTok
    assert totals == {"USD": ("65.62", 2700, 27, 6, 5, 3, "600.49", "10.94", "13.12", "9.15")}


def test_another_tenants_rates_are_never_used(fixture_a, tenant_b):
    rate(tenant_b, "USD", "BRL", "5", date(2026, 1, 1))
    assert table(report(fixture_a, currency="BRL")) == (EXPECTED, EXPECTED_TOTALS)


def test_platform_filter(fixture_a):
    rows, totals = table(report(fixture_a, platform="tiktok"))
    assert rows == {("USD", "tiktok", "TC1"): EXPECTED[("USD", "tiktok", "TC1")]}
    assert totals["USD"] == EXPECTED[("USD", "tiktok", "TC1")]
    rows, _ = table(report(fixture_a, platform="meta"))
    assert set(rows) == {("BRL", "meta", "MC1"), ("BRL", "meta", "MC2"), ("USD", "meta", "MC2")}


def test_drill_down_campaign_to_ad_set_to_ad(fixture_a):
    rep = report(fixture_a, platform="meta", campaign="MC1")
    assert rep.level == "adset" and rep.campaign.name == "Campaign MC1"
    rows, _totals = table(rep)
    assert rows == {("BRL", "meta", "MS1"): EXPECTED[("BRL", "meta", "MC1")]}
    rep = report(fixture_a, platform="meta", campaign="MC1", adset="MS1")
    assert rep.level == "ad" and rep.adset.name == "Ad set MS1"
    rows, _ = table(rep)
    assert rows == {
        ("BRL", "meta", "MA1"): ("150.15", 1500, 15, 2, 2, 1, "1000.00", "75.08", "75.08", "6.66"),
        ("BRL", "meta", "MA2"): ("20.00", 200, 2, 1, 1, 0, "0.00", "20.00", "20.00", "0.00"),
    }
    rep = report(fixture_a, platform="tiktok", campaign="TC1", adset="TG1")
    assert table(rep)[0] == {("USD", "tiktok", "TA1"): EXPECTED[("USD", "tiktok", "TC1")]}
    assert rep.campaign.name == "TikTok Launch" and rep.adset.name == "TT group TG1"


def test_funnel_and_daily_series(fixture_a):
    rep = report(fixture_a)
    assert (rep.funnel.tickets, rep.funnel.qualified, rep.funnel.won) == (6, 5, 3)
    brl = next(s for s in rep.daily if s.currency == "BRL")
    assert len(brl.points) == 31
    assert [(p.spend, p.revenue) for p in brl.points[:3]] == [
        (Decimal("120.10"), Decimal("1000.00")),
        (Decimal("50.05"), Decimal("0.00")),
        (Decimal("33.33"), Decimal("0.00")),
    ]


def test_another_tenants_data_is_never_counted(fixture_a, tenant_b):
    account = meta_account(tenant_b, "1001", "BRL")
    meta_insight(account, campaign="MC1", adset="MS1", ad="MA1", day=date(2026, 3, 1), spend="7")
    ticket(tenant_b, platform="meta", ad="MA1", opened=date(2026, 3, 1), stage="won", value="9", currency="BRL")  # fmt: skip
    rollup_refresh(tenant=tenant_b)
    rollup_refresh(tenant=fixture_a)
    assert table(report(fixture_a)) == (EXPECTED, EXPECTED_TOTALS)


# --- the pages ---------------------------------------------------------------------


def test_another_tenants_campaign_in_the_drill_down_is_404(fixture_a, owner_client, tenant_b):
    account = meta_account(tenant_b, "2002", "EUR")
    meta_insight(account, campaign="MB9", adset="MBS9", ad="MBA9", day=date(2026, 3, 1), spend="1")
    rollup_refresh(tenant=tenant_b)
    url = reverse("analytics:roi")
    query = {**MARCH, "platform": "meta"}
    assert owner_client.get(url, {**query, "campaign": "MB9"}).status_code == 404
    assert owner_client.get(url, {**query, "campaign": "MC1", "adset": "MBS9"}).status_code == 404
    export = reverse("analytics:roi_export")
    assert owner_client.get(export, {**query, "campaign": "MB9"}).status_code == 404
    assert owner_client.get(url, {**query, "campaign": "MC1"}).status_code == 200
    # an ad set of another campaign of the same tenant is not found under this one
    assert owner_client.get(url, {**query, "campaign": "MC2", "adset": "MS1"}).status_code == 404


def test_the_page_and_the_htmx_fragment(fixture_a, member_client):
    url = reverse("analytics:roi")
    page = member_client.get(url, MARCH)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<html" in html and 'id="roi-body"' in html and "<svg" in html
    assert "Campaign MC1" in html and "TikTok Launch" in html
    assert ' style="' not in html  # nothing a strict CSP would refuse
    fragment = member_client.get(url, MARCH, headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert "<html" not in body and 'id="roi-table"' in body
    assert "HX-Request" in fragment["Vary"]


def test_names_from_the_platforms_are_escaped_and_drill_links_kept(fixture_a, member_client):
    from apps.analytics.models import AdDirectory

    AdDirectory.objects.filter(campaign_id="MC1").update(campaign_name='<img src=x onerror="1">')
    html = member_client.get(reverse("analytics:roi"), MARCH).content.decode()

    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;1&quot;&gt;" in html
    link = re.search(r'<a href="([^"]*campaign=MC1[^"]*)" hx-get="\1">', html)
    assert link and "&amp;" in link.group(1)  # the query string, escaped in the attribute


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("analytics:roi"))
    assert response.status_code == 302 and "login" in response["Location"]


class _TableParser(HTMLParser):
    """Text of each row of ``#roi-table``'s currency groups (th and td cells)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.in_table = False
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "roi-table":
            self.in_table = True
        elif self.in_table and tag == "tr":
            classes = attrs.get("class", "")
            self.row = [] if ("roi-row" in classes or "total-row" in classes) else None
        elif self.row is not None and tag in ("td", "th"):
            self.cell = []
        elif self.cell is not None and tag == "span":
            self.skip += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        elif tag == "span" and self.skip:
            self.skip -= 1
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(re.sub(r"\s+", " ", "".join(self.cell)).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None and not self.skip:
            self.cell.append(data)


def _html_rows(html: str) -> list[list[str]]:
    parser = _TableParser()
    parser.feed(html)
    return parser.rows


def _csv_rows(content: bytes) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(content.decode())))
    return rows[0], rows[1:]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"platform": "meta", "campaign": "MC1"},
        {"platform": "meta", "campaign": "MC1", "adset": "MS1"},
        {"currency": "BRL"},
    ],
)
def test_csv_rows_equal_the_table(fixture_a, member_client, query):
    rate(fixture_a, "USD", "BRL", "5", date(2026, 3, 1))
    params = {**MARCH, **query}
    html_rows = _html_rows(member_client.get(reverse("analytics:roi"), params).content.decode())
    header, csv_rows = _csv_rows(member_client.get(reverse("analytics:roi_export"), params).content)
    same = member_client.get(reverse("analytics:roi"), {**params, "format": "csv"})
    assert same.content == member_client.get(reverse("analytics:roi_export"), params).content
    assert header[:5] == ["Level", "Platform", "ID", "Name", "Currency"]
    assert len(html_rows) == len(csv_rows) > 0
    for shown, exported in zip(html_rows, csv_rows, strict=True):
        level, platform, _key, name, currency, *numbers = exported
        expected_name = "Total" if level == "total" else name
        assert shown[0] == expected_name
        assert shown[1] == platform
        assert shown[2] == currency
        assert shown[3:] == [n or "—" for n in numbers]


def test_csv_money_is_plain_decimals_with_a_currency_column(fixture_a, member_client):
    header, rows = _csv_rows(member_client.get(reverse("analytics:roi_export"), MARCH).content)
    by_key = {(r[4], r[2]): dict(zip(header, r, strict=True)) for r in rows}
    assert by_key[("BRL", "MC1")]["Spend"] == "170.15"
    assert by_key[("BRL", "MC1")]["Revenue"] == "1000.00"
    assert by_key[("USD", "")]["Revenue"] == "350.49"


def test_csv_quotes_text_a_spreadsheet_would_run(tenant_a, member_client):
    account = meta_account(tenant_a)
    meta_insight(account, campaign="X1", adset="S1", ad="A1", day=date(2026, 3, 2), spend="1", names={"campaign": "=HYPERLINK(1)"})  # fmt: skip
    rollup_refresh(tenant=tenant_a)
    _, rows = _csv_rows(member_client.get(reverse("analytics:roi_export"), MARCH).content)
    assert rows[0][3] == "'=HYPERLINK(1)"


def _queries(client, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("analytics:roi"), params).status_code == 200
    return len(ctx)


#: session, user, membership, rates, spend by row and by day, ticket figures by row,
#: revenue by day, names, the rollup's time; one more per drilled-down level (its name)
BUDGET = 10


@pytest.mark.parametrize(
    ("drill", "budget"),
    [
        ({}, BUDGET),
        ({"platform": "meta", "campaign": "MC1"}, BUDGET + 1),
        ({"platform": "tiktok", "campaign": "TC1"}, BUDGET + 1),
        ({"platform": "meta", "campaign": "MC1", "adset": "MS1"}, BUDGET + 2),
    ],
)
def test_query_count_does_not_change_with_the_range(fixture_a, member_client, drill, budget):
    rate(fixture_a, "USD", "BRL", "5", date(2026, 3, 1))
    week = {"range": "custom", "start": "2026-03-01", "end": "2026-03-07", **drill}
    year = {"range": "custom", "start": "2025-04-01", "end": "2026-03-31", **drill}
    counts = {_queries(member_client, week), _queries(member_client, year)}
    counts.add(_queries(member_client, {**year, "currency": "BRL"}))
    assert counts == {budget}
    # and with more data: more campaigns, ads and tickets cost no query more
    account = meta_account(fixture_a, "3003", "BRL")
    for n in range(5):
        meta_insight(account, campaign="MC1", adset="MS1", ad=f"X{n}", day=date(2026, 3, 5), spend="1")  # fmt: skip
        meta_insight(account, campaign=f"N{n}", adset=f"NS{n}", ad=f"N{n}", day=date(2026, 3, 5), spend="1")  # fmt: skip
        ticket(fixture_a, platform="meta", ad=f"X{n}", opened=date(2026, 3, 5), stage="won", value="3", currency="EUR")  # fmt: skip
    rollup_refresh(tenant=fixture_a)
    assert _queries(member_client, year) == counts.pop()
