"""The Ads page, its drill-downs and row actions, and the TikTok Ads card's own forms."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.conf import settings
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.integrations.models import AuditEntry
from apps.tiktok_ads.models import TikTokAdGroup, TikTokAdsCampaign, TikTokAdvertiser, TikTokPixel

from .test_selectors import (
    make_ad,
    make_adgroup,
    make_advertiser,
    make_campaign,
    make_connection,
    make_insight,
    make_pixel,
)

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
ADS_URL = "/integrations/tiktok-ads/"
STATUS_UPDATE = f"{settings.TIKTOK_ADS_API_BASE}/open_api/v1.3/campaign/status/update/"
BUDGET_UPDATE = f"{settings.TIKTOK_ADS_API_BASE}/open_api/v1.3/adgroup/budget/update/"


def envelope(code: int = 0, message: str = "OK") -> dict:
    return {"code": code, "message": message, "request_id": "req-7", "data": {}}


@pytest.fixture
def tiktok():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def conn(tenant_a):
    return make_connection(tenant_a)


@pytest.fixture
def world(conn):
    today = timezone.localdate()
    make_advertiser(conn, "7001", currency="USD", name="Shoes Inc")
    campaign = make_campaign(conn, "c1", name="Summer Sale")
    adgroup = make_adgroup(conn, "g1", campaign, name="Broad 18-35")
    ad = make_ad(conn, "a1", adgroup, name="Sneaker video")
    make_insight(ad, today - timedelta(days=3), spend="12.34", impressions=2000, clicks=40)
    make_insight(ad, today - timedelta(days=45), spend="1000.00")  # outside the default range
    return {"campaign": campaign, "adgroup": adgroup, "ad": ad}


def page(client, url=ADS_URL, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200
    return response.content.decode()


# --- the Ads page ----------------------------------------------------------------------------


def test_ads_page_shows_the_last_30_days_with_currency(world, member_client):
    body = page(member_client)
    assert "Summer Sale" in body and "Shoes Inc" in body
    assert "12.34 USD" in body and "1012.34" not in body
    assert "2000" in body and "40" in body
    assert "2.00%" in body  # CTR 40 / 2000
    today = timezone.localdate()
    assert f'value="{(today - timedelta(days=29)).isoformat()}"' in body
    assert f'value="{today.isoformat()}"' in body


def test_members_see_no_action_buttons_admins_do(world, member_client, owner_a):
    assert ">Pause<" not in page(member_client)
    member_client.force_login(owner_a)  # the same client, now as the tenant's owner
    owner_page = page(member_client)
    assert ">Pause<" in owner_page
    assert "csrfmiddlewaretoken" in owner_page


def test_a_chosen_range_is_summed(world, member_client):
    today = timezone.localdate()
    body = page(
        member_client,
        data={"date_from": (today - timedelta(days=60)).isoformat(), "date_to": today.isoformat()},
    )
    assert "1012.34 USD" in body


@pytest.mark.parametrize(
    "date_from, date_to, error",
    [
        ("2025-03-10", "2025-03-01", "on or before the end date"),
        ("2024-01-01", "2025-03-01", "at most one year"),
        ("yesterday", "2025-03-01", "Enter a valid date"),
    ],
)
def test_bad_ranges_are_explained(world, member_client, date_from, date_to, error):
    body = page(member_client, data={"date_from": date_from, "date_to": date_to})
    assert error in body
    assert "Summer Sale" not in body


def test_a_full_year_is_accepted(world, member_client):
    today = timezone.localdate()
    start = today - timedelta(days=365)
    body = page(member_client, data={"date_from": start.isoformat(), "date_to": today.isoformat()})
    assert "1012.34 USD" in body


def test_not_connected_points_to_the_hub(member_client):
    assert "not connected yet" in page(member_client)


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(ADS_URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _count(client, url) -> int:
    client.get(url)
    with CaptureQueriesContext(db_connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_ads_page_query_count_is_constant(world, conn, owner_client):
    url_page = ADS_URL
    url_campaign = reverse("tiktok_ads:campaign", args=[world["campaign"].pk])
    url_adgroup = reverse("tiktok_ads:adgroup", args=[world["adgroup"].pk])
    before = [_count(owner_client, u) for u in (url_page, url_campaign, url_adgroup)]
    today = timezone.localdate()
    for n in range(15):
        campaign = make_campaign(conn, f"more-{n}")
        adgroup = make_adgroup(conn, f"more-g-{n}", world["campaign"])
        for m in range(2):
            ad = make_ad(conn, f"more-a-{n}-{m}", adgroup)
            make_insight(ad, today - timedelta(days=m), spend="1.00")
        make_ad(conn, f"extra-{n}", world["adgroup"])
        assert campaign.pk
    after = [_count(owner_client, u) for u in (url_page, url_campaign, url_adgroup)]
    assert before == after
    # session, user, memberships, connection or parent object, then the report's 3.
    assert max(after) <= 8


# --- drill-down ------------------------------------------------------------------------------


def test_campaign_drilldown_is_a_partial_for_htmx_and_a_page_otherwise(world, member_client):
    url = reverse("tiktok_ads:campaign", args=[world["campaign"].pk])
    partial = page(member_client, url, headers=HTMX)
    assert "<html" not in partial
    assert "Broad 18-35" in partial and "50.00 USD a day" in partial
    assert 'id="drilldown-ads"' in partial
    full = page(member_client, url)
    assert "<html" in full and "Summer Sale" in full and "Broad 18-35" in full


def test_adgroup_drilldown_lists_its_ads(world, member_client):
    url = reverse("tiktok_ads:adgroup", args=[world["adgroup"].pk])
    partial = page(member_client, url, headers=HTMX)
    assert "Sneaker video" in partial and "12.34 USD" in partial and "<html" not in partial
    full = page(member_client, url)
    assert "Summer Sale" in full  # breadcrumb back to the campaign


def test_drilldown_keeps_the_range(world, member_client):
    today = timezone.localdate()
    url = reverse("tiktok_ads:campaign", args=[world["campaign"].pk])
    body = page(
        member_client,
        url,
        data={"date_from": (today - timedelta(days=60)).isoformat(), "date_to": today.isoformat()},
        headers=HTMX,
    )
    assert "1012.34 USD" in body


def test_drilldown_of_another_tenant_is_404(tenant_b, member_client):
    other = make_connection(tenant_b)
    campaign = make_campaign(other, "cb")
    adgroup = make_adgroup(other, "gb", campaign)
    assert member_client.get(reverse("tiktok_ads:campaign", args=[campaign.pk])).status_code == 404
    assert member_client.get(reverse("tiktok_ads:adgroup", args=[adgroup.pk])).status_code == 404


# --- row actions ----------------------------------------------------------------------------


def _post(client, url, data, **kwargs):
    today = timezone.localdate()
    span = {"date_from": (today - timedelta(days=29)).isoformat(), "date_to": today.isoformat()}
    return client.post(url, {**span, **data}, **kwargs)


def test_pause_over_htmx_swaps_the_row(world, owner_client, tiktok):
    tiktok.post(STATUS_UPDATE, json=envelope())
    url = reverse("tiktok_ads:campaign_status", args=[world["campaign"].pk])
    response = _post(owner_client, url, {"status": "DISABLE"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith("<tr")
    assert "Paused" in body and ">Resume<" in body and "paused." in body
    assert "12.34 USD" in body  # the metrics of the range stay in the row
    assert TikTokAdsCampaign.objects.get().operation_status == "DISABLE"


def test_provider_refusal_shows_inline_and_changes_nothing(world, owner_client, tiktok):
    tiktok.post(STATUS_UPDATE, json=envelope(40002, "Campaign is locked"))
    url = reverse("tiktok_ads:campaign_status", args=[world["campaign"].pk])
    body = _post(owner_client, url, {"status": "DISABLE"}, headers=HTMX).content.decode()
    assert 'role="alert"' in body and "Campaign is locked" in body
    assert "Active" in body and ">Pause<" in body
    assert TikTokAdsCampaign.objects.get().operation_status == "ENABLE"
    assert AuditEntry.objects.get().outcome == "failed"


def test_plain_post_redirects_back_with_a_message(world, owner_client, tiktok):
    tiktok.post(STATUS_UPDATE, json=envelope())
    url = reverse("tiktok_ads:campaign_status", args=[world["campaign"].pk])
    response = _post(owner_client, url, {"status": "DISABLE", "next": f"{ADS_URL}?x=1"})
    assert response.status_code == 302 and response["Location"] == f"{ADS_URL}?x=1"
    assert "“Summer Sale” paused." in page(owner_client)


def test_plain_post_never_redirects_off_site(world, owner_client, tiktok):
    tiktok.post(STATUS_UPDATE, json=envelope())
    url = reverse("tiktok_ads:campaign_status", args=[world["campaign"].pk])
    response = _post(owner_client, url, {"status": "DISABLE", "next": "https://evil.example/"})
    assert response["Location"] == ADS_URL


def test_an_unknown_status_is_a_bad_request(world, owner_client, tiktok):
    url = reverse("tiktok_ads:campaign_status", args=[world["campaign"].pk])
    assert _post(owner_client, url, {"status": "DELETE"}).status_code == 400
    assert len(tiktok.calls) == 0


def test_budget_form_sets_the_daily_budget(world, owner_client, tiktok):
    tiktok.post(BUDGET_UPDATE, json=envelope())
    url = reverse("tiktok_ads:adgroup_budget", args=[world["adgroup"].pk])
    body = _post(owner_client, url, {"budget": "65.5"}, headers=HTMX).content.decode()
    assert "65.50 USD a day" in body and 'role="status"' in body
    assert TikTokAdGroup.objects.get().budget == Decimal("65.50")


def test_budget_below_minimum_is_shown_inline_without_a_call(world, owner_client, tiktok):
    url = reverse("tiktok_ads:adgroup_budget", args=[world["adgroup"].pk])
    response = _post(owner_client, url, {"budget": "5"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in body and "at least 20.00 USD" in body
    assert len(tiktok.calls) == 0
    assert TikTokAdGroup.objects.get().budget == Decimal("50.00")


def test_budget_that_is_not_a_number_is_shown_inline(world, owner_client, tiktok):
    url = reverse("tiktok_ads:adgroup_budget", args=[world["adgroup"].pk])
    body = _post(owner_client, url, {"budget": "lots"}, headers=HTMX).content.decode()
    assert "Enter the daily budget as a number" in body


def test_ad_rows_can_be_paused_from_the_drilldown(world, owner_client, tiktok):
    tiktok.post(f"{settings.TIKTOK_ADS_API_BASE}/open_api/v1.3/ad/status/update/", json=envelope())
    url = reverse("tiktok_ads:ad_status", args=[world["ad"].pk])
    body = _post(owner_client, url, {"status": "DISABLE"}, headers=HTMX).content.decode()
    assert 'id="ad-a1"' in body and "Paused" in body


# --- the card ----------------------------------------------------------------------------


@pytest.fixture
def card_world(conn):
    make_advertiser(conn, "7001", currency="USD", name="Shoes Inc", timezone="America/New_York")
    make_advertiser(conn, "7002", currency="BRL", name="Café Ltda", timezone="America/Sao_Paulo")
    make_pixel(conn, "p1", name="Store pixel")
    make_pixel(conn, "p2", advertiser_id="7002", name="Landing pixel")
    return conn


def _card(client) -> str:
    return page(client, reverse("integrations:card", args=["tiktok_ads"]))


def test_card_shows_advertisers_pixels_and_the_ads_link(card_world, owner_client):
    body = _card(owner_client)
    assert "Shoes Inc" in body and "USD" in body and "America/Sao_Paulo" in body
    assert 'name="advertiser"' in body and 'name="pixel"' in body
    assert "Store pixel · Shoes Inc" in body
    assert ADS_URL in body
    assert body.count("csrfmiddlewaretoken") >= 2


def test_members_see_the_card_without_forms(card_world, member_client):
    body = _card(member_client)
    assert "Shoes Inc" in body and "No conversion pixel chosen." in body
    assert 'name="advertiser"' not in body and 'name="pixel"' not in body


def test_choosing_active_advertisers_over_htmx_returns_the_card(card_world, owner_client):
    coffee = TikTokAdvertiser.objects.get(advertiser_id="7002")
    response = owner_client.post(
        reverse("tiktok_ads:advertisers_active"), {"advertiser": [coffee.pk]}, headers=HTMX
    )
    body = response.content.decode()
    assert body.lstrip().startswith("<article") and "Active advertisers saved" in body
    assert list(TikTokAdvertiser.objects.filter(is_active=True)) == [coffee]


def test_choosing_no_advertiser_is_refused(card_world, owner_client):
    body = owner_client.post(
        reverse("tiktok_ads:advertisers_active"), {}, headers=HTMX
    ).content.decode()
    assert "Choose at least one advertiser." in body
    assert TikTokAdvertiser.objects.filter(is_active=True).count() == 2


def test_choosing_the_conversion_pixel(card_world, owner_client):
    landing = TikTokPixel.objects.get(pixel_id="p2")
    response = owner_client.post(
        reverse("tiktok_ads:conversion_pixel"), {"pixel": landing.pk}, headers=HTMX
    )
    body = response.content.decode()
    assert "Conversion pixel set to Landing pixel." in body
    assert f'<option value="{landing.pk}" selected>' in body
    assert TikTokPixel.objects.get(is_conversion_pixel=True) == landing


def test_card_actions_without_htmx_redirect_to_the_hub(card_world, owner_client):
    response = owner_client.post(reverse("tiktok_ads:conversion_pixel"), {"pixel": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("integrations:hub") + "?tab=tiktok"


def test_card_actions_are_for_admins_and_own_rows_only(card_world, member_client, tenant_b):
    pixel = TikTokPixel.objects.get(pixel_id="p1")
    assert (
        member_client.post(reverse("tiktok_ads:conversion_pixel"), {"pixel": pixel.pk}).status_code
        == 403
    )
    assert member_client.post(reverse("tiktok_ads:advertisers_active"), {}).status_code == 403
    assert not TikTokPixel.objects.filter(is_conversion_pixel=True).exists()


def test_another_tenants_pixel_is_404(card_world, owner_client, tenant_b):
    theirs = make_pixel(make_connection(tenant_b), "p9")
    response = owner_client.post(reverse("tiktok_ads:conversion_pixel"), {"pixel": theirs.pk})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert not theirs.is_conversion_pixel


def test_hub_tab_query_count_does_not_grow_with_advertisers_or_pixels(card_world, member_client):
    url = reverse("integrations:hub") + "?tab=tiktok"
    with_two = _count(member_client, url)
    for n in range(20):
        make_advertiser(card_world, f"80{n}")
        make_pixel(card_world, f"px{n}", advertiser_id=f"80{n}")
    assert _count(member_client, url) == with_two


def test_drilldowns_only_read(world, owner_client):
    url = reverse("tiktok_ads:campaign", args=[world["campaign"].pk])
    assert owner_client.post(url).status_code == 405
