import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_tiktok_tab_shows_three_cards_in_order(member_client):
    response = member_client.get(reverse("integrations:hub"))
    assert response.status_code == 200
    assert response.context["active_tab"] == "tiktok"
    keys = [card.provider.key for card in response.context["cards"]]
    assert keys == ["tiktok_ads", "tiktok_shop", "tiktok_content"]
    page = response.content.decode()
    for label in ("TikTok Ads", "TikTok Shop", "TikTok Content"):
        assert label in page


def test_meta_tab_shows_the_meta_card(member_client):
    response = member_client.get(reverse("integrations:hub"), {"tab": "meta"})
    assert [c.provider.key for c in response.context["cards"]] == ["meta_ads"]


def test_every_tab_is_listed_and_renders(member_client):
    response = member_client.get(reverse("integrations:hub"))
    tabs = [t.key for t in response.context["tabs"]]
    assert tabs == ["tiktok", "meta", "conversions", "webhooks", "sync"]
    for tab in tabs:
        assert member_client.get(reverse("integrations:hub"), {"tab": tab}).status_code == 200


def test_unknown_tab_is_404(member_client):
    assert member_client.get(reverse("integrations:hub"), {"tab": "nope"}).status_code == 404


def test_card_says_not_configured_with_what_to_set(member_client, settings):
    settings.TIKTOK_SHOP_APP_KEY = ""
    settings.TIKTOK_SHOP_SERVICE_ID = ""
    response = member_client.get(reverse("integrations:hub"))
    cards = {c.provider.key: c for c in response.context["cards"]}
    assert cards["tiktok_shop"].status == "not_configured"
    assert cards["tiktok_shop"].missing_settings == [
        "TIKTOK_SHOP_APP_KEY",
        "TIKTOK_SHOP_SERVICE_ID",
    ]
    assert cards["tiktok_ads"].status == "not_connected"
    page = response.content.decode()
    assert "Not configured" in page
    assert "TIKTOK_SHOP_SERVICE_ID" in page
    assert "/integrations/tiktok/callback/" in page


def test_configured_products_say_not_connected(member_client, settings):
    settings.META_APP_ID = "123"
    settings.META_APP_SECRET = "abc"
    response = member_client.get(reverse("integrations:hub"), {"tab": "meta"})
    assert response.context["cards"][0].status == "not_connected"
    assert "Not connected" in response.content.decode()


def test_htmx_tab_switch_returns_only_the_panel(member_client):
    response = member_client.get(
        reverse("integrations:hub"),
        {"tab": "meta"},
        headers={"HX-Request": "true", "HX-Target": "hub-panel"},
    )
    body = response.content.decode()
    assert "<html" not in body
    assert 'data-tab="meta"' in body
    assert 'aria-selected="true"' in body


def test_page_loads_htmx_from_our_own_static_files(member_client):
    body = member_client.get(reverse("integrations:hub")).content.decode()
    assert "/static/django_htmx/htmx-2.min.js" in body
    assert "https://" not in body.split("<body")[0]


def _connect_meta_profiles(tenant, count: int, runs_each: int, first: int = 0) -> None:
    from apps.integrations.models import SyncRun
    from apps.meta_ads.models import MetaProfile

    for n in range(first, first + count):
        profile = MetaProfile.objects.create(
            tenant=tenant, access_token=f"t{n}", external_user_id=str(n), display_name=f"P{n}"
        )
        SyncRun.objects.bulk_create(
            SyncRun(
                tenant=tenant,
                product="meta_ads",
                connection_id=profile.pk,
                kind="ad_accounts",
                trigger="schedule",
                status="succeeded",
                stats={"fetched": 1},
            )
            for _ in range(runs_each)
        )


def _queries(client, url) -> int:
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("tab", ["tiktok", "meta", "sync"])
def test_hub_query_count_does_not_grow_with_connections_or_runs(
    tab, member_client, tenant_a, make_tenant
):
    url = reverse("integrations:hub") + f"?tab={tab}"
    _connect_meta_profiles(tenant_a, 1, 1)
    with_one = _queries(member_client, url)
    _connect_meta_profiles(tenant_a, 19, 30, first=1)
    with_twenty = _queries(member_client, url)
    assert with_twenty == with_one
    # session, user, memberships, then per tab: one query per product and one for the
    # latest runs (platform tabs), or count + page (sync history).
    assert with_one <= 7
