"""Every TikTok Ads sync kind through the sandbox: exactly the provider's rows, deleted ones kept.

Also the two actions the pages offer (pause, daily budget), sent by the client
and read back by the next sync.

The connection is made by walking the real consent flow (the shared
contract's ``connect``); the provider's truth is the sandbox generator.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.integrations.http import ProviderError
from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.sandbox import generator
from apps.tiktok_ads.models import (
    TikTokAd,
    TikTokAdGroup,
    TikTokAdInsight,
    TikTokAdsCampaign,
    TikTokAdvertiser,
    TikTokAudience,
    TikTokPixel,
)
from apps.tiktok_ads.services import client_for
from apps.tiktok_ads.sync import INSIGHTS_LOOKBACK_DAYS

from .test_contract import AdsContract

pytestmark = pytest.mark.django_db

PIXEL_LIST = "/open_api/v1.3/pixel/list/"


@pytest.fixture
def ads_connection(owner_client, sandbox):
    conn, _ = AdsContract().connect(owner_client)
    assert len(conn.assets["advertiser_ids"]) >= 2
    return conn


def account_id(connection) -> str:
    """The sandbox user the consent screen acted as (the first identity by default)."""
    for identity in generator.identities("tiktok_ads"):
        ids = [a["advertiser_id"] for a in generator.advertisers(identity.account_id)]
        if ids == connection.assets["advertiser_ids"]:
            return identity.account_id
    raise AssertionError("no sandbox identity reaches these advertisers")


def run(connection, kind: str) -> SyncRun:
    result = sync_run_for_connection_now(connection=connection, kind=kind, trigger="manual")
    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert result.stats["skipped"] == 0
    return result


# --- advertisers ------------------------------------------------------------------------------


def test_advertisers_sync_stores_the_reachable_advertisers_with_their_details(ads_connection):
    expected = generator.advertisers(account_id(ads_connection))

    result = run(ads_connection, "advertisers")

    stored = {
        a.advertiser_id: (a.name, a.currency, a.timezone, a.status)
        for a in TikTokAdvertiser.objects.all()
    }
    assert stored == {
        a["advertiser_id"]: (a["name"], a["currency"], a["timezone"], a["status"]) for a in expected
    }
    # Discovery at connect stored them already: the sync updates them in place.
    assert (result.stats["created"], result.stats["updated"]) == (0, len(expected))


def test_advertisers_sync_keeps_the_tenants_active_choice(ads_connection):
    first, second = ads_connection.assets["advertiser_ids"][:2]
    TikTokAdvertiser.objects.filter(advertiser_id=second).update(is_active=False, name="stale")

    run(ads_connection, "advertisers")

    states = dict(TikTokAdvertiser.objects.values_list("advertiser_id", "is_active"))
    assert states == {first: True, second: False}
    assert TikTokAdvertiser.objects.get(advertiser_id=second).name != "stale"


def test_advertisers_new_to_the_hub_start_active(ads_connection):
    TikTokAdvertiser.objects.all().delete()

    result = run(ads_connection, "advertisers")

    assert result.stats["created"] == len(ads_connection.assets["advertiser_ids"])
    assert set(TikTokAdvertiser.objects.values_list("is_active", flat=True)) == {True}


# --- pixels ------------------------------------------------------------------------------------


def test_pixels_sync_stores_every_pixel_of_every_active_advertiser(ads_connection, sandbox):
    advertiser_ids = ads_connection.assets["advertiser_ids"]
    expected = {
        p["pixel_id"]: (a, p["pixel_code"], p["pixel_name"])
        for a in advertiser_ids
        for p in generator.pixels(a)
    }

    result = run(ads_connection, "pixels")

    stored = {
        p.pixel_id: (p.advertiser_id, p.pixel_code, p.name) for p in TikTokPixel.objects.all()
    }
    assert stored == expected
    assert result.stats["created"] == result.stats["fetched"] == len(expected)
    assert sandbox.calls(PIXEL_LIST) == len(advertiser_ids)


def test_pixels_sync_keeps_the_conversion_pixel_and_skips_inactive_advertisers(
    ads_connection, sandbox
):
    first, second = ads_connection.assets["advertiser_ids"][:2]
    run(ads_connection, "pixels")
    chosen = TikTokPixel.objects.filter(advertiser_id=first).order_by("pixel_id").first()
    TikTokPixel.objects.filter(pk=chosen.pk).update(is_conversion_pixel=True)
    TikTokAdvertiser.objects.filter(advertiser_id=second).update(is_active=False)
    sandbox.clear()

    again = run(ads_connection, "pixels")

    assert sandbox.calls(PIXEL_LIST) == 1  # only the active advertiser
    assert (again.stats["created"], again.stats["updated"]) == (0, len(generator.pixels(first)))
    assert list(
        TikTokPixel.objects.filter(is_conversion_pixel=True).values_list("pk", flat=True)
    ) == [chosen.pk]


# --- campaigns (the kind the others copy) ---------------------------------------------------------


def test_campaigns_walk_only_active_advertisers(ads_connection):
    first, second = ads_connection.assets["advertiser_ids"][:2]
    TikTokAdvertiser.objects.filter(advertiser_id=second).update(is_active=False)

    run(ads_connection, "campaigns")

    assert set(TikTokAdsCampaign.objects.values_list("advertiser_id", flat=True)) == {first}
    assert TikTokAdsCampaign.objects.count() == len(generator.campaigns(first))


# --- ad groups and ads ----------------------------------------------------------------------


def test_adgroups_sync_stores_every_adgroup_deleted_ones_included(ads_connection, sandbox):
    advertiser_ids = ads_connection.assets["advertiser_ids"]
    expected = {g["adgroup_id"]: g for a in advertiser_ids for g in generator.adgroups(a)}

    result = run(ads_connection, "adgroups")

    stored = {g.adgroup_id: g for g in TikTokAdGroup.objects.all()}
    assert set(stored) == set(expected)
    assert result.stats["created"] == result.stats["fetched"] == len(expected)
    for adgroup_id, row in expected.items():
        got = stored[adgroup_id]
        assert (got.campaign_id, got.name, got.secondary_status, got.operation_status) == (
            row["campaign_id"],
            row["adgroup_name"],
            row["secondary_status"],
            row["operation_status"],
        )
        assert got.budget == _money(row["budget"])
    deleted = [g for g in expected.values() if generator.is_deleted(generator.ADGROUP, g)]
    assert deleted, "the sandbox generates deleted ad groups"
    assert {g["adgroup_id"] for g in deleted} <= set(stored)


def test_ads_sync_stores_every_ad_deleted_ones_included(ads_connection, sandbox):
    advertiser_ids = ads_connection.assets["advertiser_ids"]
    expected = {ad["ad_id"]: ad for a in advertiser_ids for ad in generator.ads(a)}

    result = run(ads_connection, "ads")

    stored = {ad.ad_id: ad for ad in TikTokAd.objects.all()}
    assert set(stored) == set(expected)
    assert result.stats["created"] == len(expected)
    for ad_id, row in expected.items():
        got = stored[ad_id]
        assert (got.adgroup_id, got.campaign_id, got.name, got.secondary_status) == (
            row["adgroup_id"],
            row["campaign_id"],
            row["ad_name"],
            row["secondary_status"],
        )
        assert got.landing_page_url == (row.get("landing_page_url") or "")
    assert any(generator.is_deleted(generator.AD, ad) for ad in expected.values())
    # One page per 100 ads of each advertiser.
    pages = sum(-(-len(generator.ads(a)) // 100) for a in advertiser_ids)
    assert sandbox.calls("/open_api/v1.3/ad/get/") == pages


def test_a_rerun_of_ads_updates_in_place(ads_connection):
    first = run(ads_connection, "ads")
    again = run(ads_connection, "ads")
    assert (again.stats["created"], again.stats["updated"]) == (0, first.stats["created"])
    assert TikTokAd.objects.count() == first.stats["created"]


# --- audiences --------------------------------------------------------------------------------


def test_audiences_sync_stores_every_custom_audience(ads_connection):
    advertiser_ids = ads_connection.assets["advertiser_ids"]
    expected = {
        row["audience_id"]: (a, row["name"], row["audience_type"], row["cover_num"], row["shared"])
        for a in advertiser_ids
        for row in generator.custom_audiences(a)
    }

    result = run(ads_connection, "audiences")

    stored = {
        row.audience_id: (
            row.advertiser_id,
            row.name,
            row.audience_type,
            row.cover_num,
            row.is_shared,
        )
        for row in TikTokAudience.objects.all()
    }
    assert stored == expected
    assert result.stats["created"] == len(expected)


def _money(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


# --- insights (scheduled: the lookback) ------------------------------------------------------


def sandbox_days(advertiser_ids: list[str], *, since_days: int) -> dict[tuple[str, str], str]:
    """(ad_id, day) -> spend of the sandbox's rows of the last ``since_days`` days + today."""
    rows = {}
    for advertiser_id in advertiser_ids:
        today = generator.report_today(advertiser_id)
        page = generator.report(
            generator.ReportQuery(
                advertiser_id=advertiser_id,
                data_level="AUCTION_AD",
                by_day=True,
                start=today - timedelta(days=since_days),
                end=today,
                metrics=("spend",),
                allowed=frozenset(ad["ad_id"] for ad in generator.ads(advertiser_id)),
                page_size=10**6,
            )
        )
        for row in page.rows:
            day = row["dimensions"]["stat_time_day"][:10]
            rows[(row["dimensions"]["ad_id"], day)] = row["metrics"]["spend"]
    return rows


def at_noon(monkeypatch, day) -> None:
    noon = datetime.combine(day, time(12), tzinfo=UTC)
    monkeypatch.setattr(generator, "now", lambda: noon)


def test_a_scheduled_insights_run_pulls_the_lookback_days(ads_connection):
    """Both clocks are the real one, so our "today" in each advertiser's zone is the sandbox's."""
    advertiser_ids = ads_connection.assets["advertiser_ids"]
    expected = sandbox_days(advertiser_ids, since_days=INSIGHTS_LOOKBACK_DAYS)

    result = run(ads_connection, "insights")

    stored = {
        (row.ad_id, row.date.isoformat()): f"{row.spend:.2f}"
        for row in TikTokAdInsight.objects.all()
    }
    assert stored == expected
    assert result.stats["created"] == len(expected)
    for advertiser_id in advertiser_ids:
        today = generator.report_today(advertiser_id)
        days = TikTokAdInsight.objects.filter(advertiser_id=advertiser_id).values_list(
            "date", flat=True
        )
        assert min(days) == today - timedelta(days=INSIGHTS_LOOKBACK_DAYS)
        assert max(days) == today


def test_the_next_days_run_picks_up_what_tiktok_restated(ads_connection, monkeypatch):
    """Recent days move (late conversions, matured delivery): the lookback re-pulls them."""
    today = timezone.localdate()
    at_noon(monkeypatch, today - timedelta(days=1))  # the sandbox's "today" is our yesterday
    run(ads_connection, "insights")
    yesterday = (today - timedelta(days=1)).isoformat()
    before = {row.ad_id: row.spend for row in TikTokAdInsight.objects.filter(date=yesterday)}
    assert before

    at_noon(monkeypatch, today)
    again = run(ads_connection, "insights")

    after = {row.ad_id: row.spend for row in TikTokAdInsight.objects.filter(date=yesterday)}
    assert after.keys() == before.keys()
    assert sum(after.values()) > sum(before.values())  # a day old, more of it reported
    assert again.stats["updated"] >= len(before)
    expected = sandbox_days(
        ads_connection.assets["advertiser_ids"], since_days=INSIGHTS_LOOKBACK_DAYS
    )
    assert {k: v for k, v in expected.items() if k[1] == yesterday} == {
        (ad_id, yesterday): f"{spend:.2f}" for ad_id, spend in after.items()
    }


# --- actions, then a sync: the wire format the sandbox (the contract) takes --------------------


def test_a_campaign_paused_through_the_client_shows_paused_after_the_next_sync(ads_connection):
    advertiser_id = ads_connection.assets["advertiser_ids"][0]
    campaign = next(
        c
        for c in generator.campaigns(advertiser_id)
        if c["operation_status"] == "ENABLE" and not generator.is_deleted(generator.CAMPAIGN, c)
    )
    with client_for(ads_connection) as client:
        data = client.update_status(
            advertiser_id=advertiser_id,
            object_type="campaign",
            ids=[campaign["campaign_id"]],
            operation_status="DISABLE",
        )
    assert data["campaign_ids"] == [campaign["campaign_id"]]
    assert data["status"] == "DISABLE"

    run(ads_connection, "campaigns")

    stored = TikTokAdsCampaign.objects.get(campaign_id=campaign["campaign_id"])
    assert (stored.operation_status, stored.secondary_status) == (
        "DISABLE",
        "CAMPAIGN_STATUS_DISABLE",
    )


def test_an_adgroup_budget_set_through_the_client_is_synced_back(ads_connection):
    advertiser_id = ads_connection.assets["advertiser_ids"][0]
    adgroup = next(
        g
        for g in generator.adgroups(advertiser_id)
        if g["budget_mode"] == "BUDGET_MODE_DAY" and not generator.is_deleted(generator.ADGROUP, g)
    )
    with client_for(ads_connection) as client:
        assert (
            client.update_adgroup_budget(
                advertiser_id=advertiser_id,
                adgroup_id=adgroup["adgroup_id"],
                budget=Decimal("321.50"),
            )
            == {}
        )
        with pytest.raises(ProviderError) as below_minimum:
            client.update_adgroup_budget(
                advertiser_id=advertiser_id, adgroup_id=adgroup["adgroup_id"], budget=Decimal("1")
            )
    assert below_minimum.value.code == "40002"
    assert "minimum daily budget" in below_minimum.value.message

    run(ads_connection, "adgroups")

    assert TikTokAdGroup.objects.get(adgroup_id=adgroup["adgroup_id"]).budget == Decimal("321.50")
