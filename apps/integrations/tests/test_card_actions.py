"""Card actions answer htmx with the re-rendered card, plain posts with a redirect."""

import pytest
from django.urls import reverse

from apps.integrations.models import SyncRun
from apps.tiktok_ads.models import TikTokAdsConnection

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "card-tiktok_ads"}


@pytest.fixture
def ads(tenant_a):
    return TikTokAdsConnection.objects.create(
        tenant=tenant_a,
        access_token="tok",
        external_user_id="700",
        display_name="Acme Ads",
        assets={"advertiser_ids": []},
        scope_packs=["ads_read"],
        granted_scopes=["10", "20", "21", "22"],
    )


def test_card_with_a_running_sync_polls_itself_and_stops_after(owner_client, ads):
    run = SyncRun.objects.create(
        tenant=ads.tenant,
        product="tiktok_ads",
        connection_id=ads.pk,
        kind="campaigns",
        trigger="manual",
        status=SyncRun.Status.RUNNING,
    )
    card = owner_client.get(reverse("integrations:card", args=["tiktok_ads"])).content.decode()
    assert 'hx-trigger="every 2s"' in card
    assert "Syncing" in card
    run.status = SyncRun.Status.SUCCEEDED
    run.stats = {"fetched": 12, "created": 2, "updated": 10, "skipped": 0, "errors": 0}
    run.save()
    card = owner_client.get(reverse("integrations:card", args=["tiktok_ads"])).content.decode()
    assert "every 2s" not in card
    assert "Succeeded" in card and "fetched 12" in card


def test_sync_now_over_htmx_returns_the_card_with_the_outcome(owner_client, ads, monkeypatch):
    queued = []
    monkeypatch.setattr(
        "apps.integrations.scheduling.enqueue", lambda func, *args, **kw: queued.append(args)
    )
    response = owner_client.post(
        reverse("integrations:sync", args=["tiktok_ads", ads.pk]), headers=HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith("<article")
    assert "Sync started." in body
    runs = SyncRun.objects.order_by("pk")
    kinds = {r.kind for r in runs}
    assert "campaigns" in kinds
    assert {(r.trigger, r.status) for r in runs} == {("manual", "queued")}
    assert queued == [(r.pk,) for r in runs]
    assert 'hx-trigger="every 2s"' in body


def test_sync_now_twice_keeps_one_active_run(owner_client, ads, monkeypatch):
    monkeypatch.setattr("apps.integrations.scheduling.enqueue", lambda *a, **k: None)
    url = reverse("integrations:sync", args=["tiktok_ads", ads.pk])
    owner_client.post(url)
    first = SyncRun.objects.count()
    owner_client.post(url)
    # One active run per kind: the second click starts nothing new.
    assert SyncRun.objects.count() == first


def test_plain_post_redirects_to_the_tab_with_a_message(owner_client, ads, monkeypatch):
    monkeypatch.setattr("apps.integrations.scheduling.enqueue", lambda *a, **k: None)
    response = owner_client.post(reverse("integrations:sync", args=["tiktok_ads", ads.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("integrations:hub") + "?tab=tiktok"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Sync started." in page


def test_members_see_the_card_without_actions(member_client, ads):
    body = member_client.get(reverse("integrations:hub")).content.decode()
    assert "Acme Ads" in body
    assert "Disconnect" not in body and "Sync now" not in body and "Scope packs" not in body


def test_members_cannot_act(member_client, ads):
    for name in ("integrations:test", "integrations:sync", "integrations:disconnect"):
        assert member_client.post(reverse(name, args=["tiktok_ads", ads.pk])).status_code == 403
    ads.refresh_from_db()
    assert ads.status == "connected"


def test_sensitive_pack_needs_confirmation(owner_client):
    response = owner_client.post(
        reverse("integrations:connect", args=["tiktok_shop"]),
        {"packs": ["shop_orders", "shop_finance"]},
        follow=True,
    )
    assert "confirm them to continue" in response.content.decode()
    from apps.integrations.models import OAuthState

    assert not OAuthState.objects.exists()


def test_unknown_pack_or_product_is_refused(owner_client):
    response = owner_client.post(
        reverse("integrations:connect", args=["tiktok_ads"]),
        {"packs": ["shop_orders"]},
        follow=True,
    )
    assert "Unknown scope packs" in response.content.decode()
    assert owner_client.post("/integrations/nope/connect/").status_code == 404


def test_not_configured_product_cannot_connect(owner_client, settings):
    settings.TIKTOK_APP_ID = ""
    response = owner_client.post(
        reverse("integrations:connect", args=["tiktok_ads"]), {"packs": ["ads_read"]}, follow=True
    )
    assert "not configured" in response.content.decode()


def test_sync_history_filters_by_product_and_status(owner_client, ads, tenant_b):
    common = dict(connection_id=ads.pk, kind="campaigns", trigger="manual")
    SyncRun.objects.create(
        tenant=ads.tenant, product="tiktok_ads", status="failed", error="boom", **common
    )
    SyncRun.objects.create(tenant=ads.tenant, product="tiktok_ads", status="succeeded", **common)
    SyncRun.objects.create(
        tenant=tenant_b, product="tiktok_ads", status="failed", error="other tenant", **common
    )
    url = reverse("integrations:hub")
    page = owner_client.get(url, {"tab": "sync"}).content.decode()
    assert page.count("data-run=") == 2 and "other tenant" not in page
    page = owner_client.get(url, {"tab": "sync", "status": "failed"}).content.decode()
    assert page.count("data-run=") == 1 and "boom" in page
    page = owner_client.get(url, {"tab": "sync", "product": "meta_ads"}).content.decode()
    assert "data-run=" not in page


def test_sync_history_pages_without_counting(owner_client, ads):
    SyncRun.objects.bulk_create(
        SyncRun(
            tenant=ads.tenant,
            product="tiktok_ads",
            connection_id=ads.pk,
            kind="campaigns",
            trigger="schedule",
            status="succeeded",
        )
        for _ in range(51)
    )
    url = reverse("integrations:hub")
    first = owner_client.get(url, {"tab": "sync"}).content.decode()
    assert first.count("data-run=") == 50 and "Older" in first and "Newer" not in first
    second = owner_client.get(url, {"tab": "sync", "page": 2}).content.decode()
    assert second.count("data-run=") == 1 and "Newer" in second and "Older" not in second
    assert owner_client.get(url, {"tab": "sync", "page": "x"}).status_code == 200
