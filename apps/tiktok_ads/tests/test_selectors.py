"""The Ads page's reads: sums per currency, which rows show, and a fixed query count.

The ``make_*`` helpers build synced rows directly; the view and action tests
reuse them.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.tiktok_ads import selectors
from apps.tiktok_ads.models import (
    TikTokAd,
    TikTokAdGroup,
    TikTokAdInsight,
    TikTokAdsCampaign,
    TikTokAdsConnection,
    TikTokAdvertiser,
    TikTokPixel,
)

pytestmark = pytest.mark.django_db

DAY = date(2025, 3, 10)


# --- builders shared by the TikTok Ads view and action tests --------------------------------


def make_connection(tenant, **fields) -> TikTokAdsConnection:
    defaults = {
        "access_token": "ads-token",
        "external_user_id": "700",
        "display_name": "Acme Ads",
        "assets": {"advertiser_ids": ["7001"]},
        "scope_packs": ["ads_read", "ads_manage", "ads_report"],
        "granted_scopes": ["10", "20", "21", "22", "44"],
    }
    return TikTokAdsConnection.objects.create(tenant=tenant, **{**defaults, **fields})


def make_advertiser(conn, advertiser_id="7001", currency="USD", **fields) -> TikTokAdvertiser:
    return TikTokAdvertiser.objects.create(
        tenant=conn.tenant,
        connection=conn,
        advertiser_id=advertiser_id,
        name=fields.pop("name", f"Advertiser {advertiser_id}"),
        currency=currency,
        timezone=fields.pop("timezone", "America/New_York"),
        status="STATUS_ENABLE",
        synced_at=timezone.now(),
        **fields,
    )


def make_campaign(conn, campaign_id, advertiser_id="7001", **fields) -> TikTokAdsCampaign:
    defaults = {
        "name": f"Campaign {campaign_id}",
        "operation_status": "ENABLE",
        "secondary_status": "CAMPAIGN_STATUS_ENABLE",
        "budget_mode": "BUDGET_MODE_INFINITE",
    }
    return TikTokAdsCampaign.objects.create(
        tenant=conn.tenant,
        connection=conn,
        advertiser_id=advertiser_id,
        campaign_id=campaign_id,
        synced_at=timezone.now(),
        **{**defaults, **fields},
    )


def make_adgroup(conn, adgroup_id, campaign, **fields) -> TikTokAdGroup:
    defaults = {
        "name": f"Ad group {adgroup_id}",
        "operation_status": "ENABLE",
        "secondary_status": "ADGROUP_STATUS_DELIVERY_OK",
        "budget_mode": "BUDGET_MODE_DAY",
        "budget": Decimal("50.00"),
    }
    return TikTokAdGroup.objects.create(
        tenant=conn.tenant,
        connection=conn,
        advertiser_id=campaign.advertiser_id,
        campaign_id=campaign.campaign_id,
        adgroup_id=adgroup_id,
        synced_at=timezone.now(),
        **{**defaults, **fields},
    )


def make_ad(conn, ad_id, adgroup, **fields) -> TikTokAd:
    defaults = {
        "name": f"Ad {ad_id}",
        "operation_status": "ENABLE",
        "secondary_status": "AD_STATUS_DELIVERY_OK",
    }
    return TikTokAd.objects.create(
        tenant=conn.tenant,
        connection=conn,
        advertiser_id=adgroup.advertiser_id,
        campaign_id=adgroup.campaign_id,
        adgroup_id=adgroup.adgroup_id,
        ad_id=ad_id,
        synced_at=timezone.now(),
        **{**defaults, **fields},
    )


def make_insight(ad, day, *, spend, currency="USD", impressions=1000, clicks=10, conversions=1):
    return TikTokAdInsight.objects.create(
        tenant=ad.tenant,
        connection=ad.connection,
        advertiser_id=ad.advertiser_id,
        campaign_id=ad.campaign_id,
        adgroup_id=ad.adgroup_id,
        ad_id=ad.ad_id,
        date=day,
        currency=currency,
        spend=Decimal(spend),
        impressions=impressions,
        clicks=clicks,
        conversions=conversions,
        synced_at=timezone.now(),
    )


def make_pixel(conn, pixel_id, advertiser_id="7001", **fields) -> TikTokPixel:
    return TikTokPixel.objects.create(
        tenant=conn.tenant,
        connection=conn,
        advertiser_id=advertiser_id,
        pixel_id=pixel_id,
        pixel_code=f"C{pixel_id}",
        name=fields.pop("name", f"Pixel {pixel_id}"),
        synced_at=timezone.now(),
        **fields,
    )


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def conn(tenant_a):
    return make_connection(tenant_a)


@pytest.fixture
def world(conn):
    """One USD advertiser: a campaign with two ad groups (two ads in the first), spending."""
    make_advertiser(conn)
    campaign = make_campaign(conn, "c1")
    first = make_adgroup(conn, "g1", campaign)
    second = make_adgroup(conn, "g2", campaign)
    ad1, ad2, ad3 = (
        make_ad(conn, "a1", first),
        make_ad(conn, "a2", first),
        make_ad(conn, "a3", second),
    )
    make_insight(ad1, DAY, spend="10.50", impressions=1000, clicks=20, conversions=2)
    make_insight(
        ad1, DAY + timedelta(days=1), spend="4.25", impressions=500, clicks=5, conversions=1
    )
    make_insight(ad2, DAY, spend="1.00", impressions=100, clicks=1, conversions=0)
    make_insight(ad3, DAY, spend="3.00", impressions=300, clicks=3, conversions=0)
    return {"campaign": campaign, "adgroups": (first, second), "ads": (ad1, ad2, ad3)}


def _by_id(report):
    return {row.object_id: row for row in report.rows}


# --- card -------------------------------------------------------------------------------


def test_card_extras_lists_advertisers_and_pixels_in_two_queries(conn, django_assert_num_queries):
    make_advertiser(conn, "7001", name="Shoes")
    make_advertiser(conn, "7002", currency="BRL", name="Coffee", is_active=False)
    make_pixel(conn, "p1", name="Site pixel")
    chosen = make_pixel(
        conn, "p2", advertiser_id="7002", name="Shop pixel", is_conversion_pixel=True
    )
    with django_assert_num_queries(2):
        extras = selectors.card_extras(tenant=conn.tenant, connections=[conn])
    assert [(a.name, a.is_active) for a in extras["advertisers"]] == [
        ("Coffee", False),
        ("Shoes", True),
    ]
    assert [(p["pixel"].name, p["advertiser"]) for p in extras["pixels"]] == [
        ("Shop pixel", "Coffee"),
        ("Site pixel", "Shoes"),
    ]
    assert extras["conversion_pixel"] == chosen


def test_card_extras_never_shows_another_tenants_rows(conn, tenant_b):
    other = make_connection(tenant_b)
    make_advertiser(other, "9001")
    make_pixel(other, "p9", advertiser_id="9001")
    extras = selectors.card_extras(tenant=conn.tenant, connections=[conn])
    assert extras["advertisers"] == [] and extras["pixels"] == []
    assert extras["conversion_pixel"] is None


def test_card_extras_shows_discovered_advertisers_before_the_first_sync(tenant_a):
    discovered = {"id": "7001", "name": "Shoes", "currency": "USD", "timezone": "UTC"}
    conn = make_connection(
        tenant_a, assets={"advertiser_ids": ["7001"], "advertisers": [discovered]}
    )
    extras = selectors.card_extras(tenant=tenant_a, connections=[conn])
    assert extras["advertisers"] == []
    assert extras["discovered_advertisers"] == [discovered]


# --- reports ------------------------------------------------------------------------------


def test_campaign_report_sums_the_range_in_sql(world, conn):
    report = selectors.campaign_report(tenant=conn.tenant, date_from=DAY, date_to=DAY)
    [row] = report.rows
    [line] = row.lines
    assert (line.currency, line.spend, line.impressions, line.clicks, line.conversions) == (
        "USD",
        Decimal("14.50"),
        1400,
        24,
        2,
    )
    assert line.ctr == Decimal("1.71")  # 24 / 1400
    wider = selectors.campaign_report(
        tenant=conn.tenant, date_from=DAY, date_to=DAY + timedelta(days=1)
    )
    assert wider.rows[0].lines[0].spend == Decimal("18.75")
    assert [(t.currency, t.spend) for t in wider.totals] == [("USD", Decimal("18.75"))]


def test_two_currencies_are_never_added_together(conn):
    make_advertiser(conn, "7001", currency="USD")
    make_advertiser(conn, "7002", currency="BRL")
    usd_ad = make_ad(conn, "a1", make_adgroup(conn, "g1", make_campaign(conn, "c1")))
    brl_ad = make_ad(conn, "a2", make_adgroup(conn, "g2", make_campaign(conn, "c2", "7002")))
    make_insight(usd_ad, DAY, spend="10.00", currency="USD")
    make_insight(brl_ad, DAY, spend="50.00", currency="BRL")
    # An advertiser whose currency changed mid-range: one campaign, two lines.
    make_insight(usd_ad, DAY + timedelta(days=1), spend="7.00", currency="EUR")

    report = selectors.campaign_report(
        tenant=conn.tenant, date_from=DAY, date_to=DAY + timedelta(days=1)
    )
    rows = _by_id(report)
    assert [(m.currency, m.spend) for m in rows["c1"].lines] == [
        ("EUR", Decimal("7.00")),
        ("USD", Decimal("10.00")),
    ]
    assert [(m.currency, m.spend) for m in rows["c2"].lines] == [("BRL", Decimal("50.00"))]
    assert [(t.currency, t.spend, t.impressions) for t in report.totals] == [
        ("BRL", Decimal("50.00"), 1000),
        ("EUR", Decimal("7.00"), 1000),
        ("USD", Decimal("10.00"), 1000),
    ]
    with pytest.raises(ValueError):
        report.totals[0].add(report.totals[1])


def test_rows_without_metrics_show_zero_in_the_advertisers_currency(conn):
    make_advertiser(conn, "7002", currency="BRL")
    make_campaign(conn, "idle", "7002")
    [row] = selectors.campaign_report(tenant=conn.tenant, date_from=DAY, date_to=DAY).rows
    assert [(m.currency, m.spend, m.ctr) for m in row.lines] == [("BRL", Decimal("0.00"), None)]


def test_deleted_campaigns_show_only_when_they_spent(conn):
    make_advertiser(conn)
    make_campaign(conn, "gone-quiet", secondary_status="CAMPAIGN_STATUS_DELETE")
    spent = make_campaign(conn, "gone-spent", secondary_status="CAMPAIGN_STATUS_DELETE")
    make_insight(make_ad(conn, "a1", make_adgroup(conn, "g1", spent)), DAY, spend="2.00")
    rows = _by_id(selectors.campaign_report(tenant=conn.tenant, date_from=DAY, date_to=DAY))
    assert set(rows) == {"gone-spent"}
    assert rows["gone-spent"].is_deleted and not rows["gone-spent"].changeable
    assert rows["gone-spent"].status_label == "Deleted"


def test_inactive_advertisers_are_left_out(conn):
    make_advertiser(conn, "7001")
    make_advertiser(conn, "7002", is_active=False)
    make_campaign(conn, "shown")
    hidden = make_campaign(conn, "hidden", "7002")
    make_insight(make_ad(conn, "a1", make_adgroup(conn, "g1", hidden)), DAY, spend="9.00")
    report = selectors.campaign_report(tenant=conn.tenant, date_from=DAY, date_to=DAY)
    assert set(_by_id(report)) == {"shown"}
    assert report.totals == []


def test_insights_of_a_campaign_not_synced_yet_still_count(conn):
    make_advertiser(conn)
    ghost = TikTokAdsCampaign(
        tenant=conn.tenant, connection=conn, advertiser_id="7001", campaign_id="c-new"
    )
    ad = make_ad(conn, "a1", make_adgroup(conn, "g1", ghost))
    make_insight(ad, DAY, spend="3.00")
    [row] = selectors.campaign_report(tenant=conn.tenant, date_from=DAY, date_to=DAY).rows
    assert (row.object_id, row.obj, row.name) == ("c-new", None, "c-new")
    assert not row.changeable


def test_rows_that_spent_come_first_by_currency_then_spend(conn):
    make_advertiser(conn, "7001", currency="USD")
    make_advertiser(conn, "7002", currency="BRL")
    make_campaign(conn, "idle")
    for campaign_id, advertiser, spend, currency in [
        ("small", "7001", "1.00", "USD"),
        ("big", "7001", "90.00", "USD"),
        ("real", "7002", "500.00", "BRL"),
    ]:
        campaign = make_campaign(conn, campaign_id, advertiser)
        ad = make_ad(conn, f"ad-{campaign_id}", make_adgroup(conn, f"g-{campaign_id}", campaign))
        make_insight(ad, DAY, spend=spend, currency=currency)
    report = selectors.campaign_report(tenant=conn.tenant, date_from=DAY, date_to=DAY)
    assert [r.object_id for r in report.rows] == ["real", "big", "small", "idle"]


def test_adgroup_and_ad_reports_drill_down(world, conn):
    first = world["adgroups"][0]
    groups = _by_id(
        selectors.adgroup_report(
            tenant=conn.tenant, campaign=world["campaign"], date_from=DAY, date_to=DAY
        )
    )
    assert {k: v.lines[0].spend for k, v in groups.items()} == {
        "g1": Decimal("11.50"),
        "g2": Decimal("3.00"),
    }
    assert groups["g1"].has_daily_budget
    ads = _by_id(selectors.ad_report(tenant=conn.tenant, adgroup=first, date_from=DAY, date_to=DAY))
    assert {k: v.lines[0].spend for k, v in ads.items()} == {
        "a1": Decimal("10.50"),
        "a2": Decimal("1.00"),
    }


def test_reports_never_read_another_tenant(world, conn, tenant_b):
    other = make_connection(tenant_b)
    make_advertiser(other)
    stranger = make_campaign(other, "c1-b")
    make_insight(make_ad(other, "b1", make_adgroup(other, "gb", stranger)), DAY, spend="99.00")
    report = selectors.campaign_report(tenant=conn.tenant, date_from=DAY, date_to=DAY)
    assert set(_by_id(report)) == {"c1"}
    assert report.totals[0].spend == Decimal("14.50")


def test_the_row_limit_keeps_totals_whole(world, conn, monkeypatch):
    make_campaign(conn, "idle")
    monkeypatch.setattr(selectors, "REPORT_ROW_LIMIT", 1)
    report = selectors.campaign_report(tenant=conn.tenant, date_from=DAY, date_to=DAY)
    assert [r.object_id for r in report.rows] == ["c1"] and report.truncated
    assert report.totals[0].spend == Decimal("14.50")


def _grow(conn, *, campaigns: int, days: int) -> None:
    for c in range(campaigns):
        campaign = make_campaign(conn, f"grow-{c}")
        ad = make_ad(conn, f"grow-ad-{c}", make_adgroup(conn, f"grow-g-{c}", campaign))
        TikTokAdInsight.objects.bulk_create(
            TikTokAdInsight(
                tenant=conn.tenant,
                connection=conn,
                advertiser_id=ad.advertiser_id,
                campaign_id=ad.campaign_id,
                adgroup_id=ad.adgroup_id,
                ad_id=ad.ad_id,
                date=DAY - timedelta(days=d),
                currency="EUR" if d % 2 else "USD",
                spend=Decimal("1.00"),
                impressions=10,
                clicks=1,
                synced_at=timezone.now(),
            )
            for d in range(days)
        )


@pytest.mark.parametrize("days", [1, 365], ids=["one-day", "one-year"])
def test_report_query_count_is_fixed(days, world, conn):
    """3 queries (advertisers, sums, rows) per report, whatever the range or the row count."""
    span = {"tenant": conn.tenant, "date_from": DAY - timedelta(days=days - 1), "date_to": DAY}
    reports = [
        lambda: selectors.campaign_report(**span),
        lambda: selectors.adgroup_report(campaign=world["campaign"], **span),
        lambda: selectors.ad_report(adgroup=world["adgroups"][0], **span),
    ]

    def counts() -> list[int]:
        result = []
        for report in reports:
            with CaptureQueriesContext(db_connection) as queries:
                report()
            result.append(len(queries))
        return result

    small = counts()
    _grow(conn, campaigns=25, days=40)
    assert small == counts() == [3, 3, 3]
