"""The shared callback refuses expired states and states of another tenant, writing nothing."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.integrations.models import OAuthState
from apps.integrations.tests.contract import ProviderContract
from apps.tenants.models import Membership
from apps.tiktok_content.models import TikTokContentConnection

pytestmark = pytest.mark.django_db


class Content(ProviderContract):
    provider_key = sandbox_provider = "tiktok_content"
    packs = ("content_analytics",)


def test_expired_state_is_refused_with_a_message(owner_client, sandbox, caplog):
    callback = Content().consent(Content().start(owner_client))
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = owner_client.get(callback, follow=True)
    assert "more than 10 minutes" in response.content.decode()
    assert not TikTokContentConnection.objects.exists()
    assert "reason=expired" in caplog.text


def test_state_of_another_tenant_is_refused(owner_client, owner_a, tenant_b, sandbox):
    Membership.objects.create(user=owner_a, tenant=tenant_b, role=Membership.Role.OWNER)
    callback = Content().consent(Content().start(owner_client))
    owner_client.post(reverse("tenants:switch"), {"tenant_id": tenant_b.pk})
    response = owner_client.get(callback, follow=True)
    assert "started for another tenant" in response.content.decode()
    assert not TikTokContentConnection.objects.exists()


def test_callback_without_state_is_refused(owner_client, sandbox):
    # Meta registers no stateless handler (TikTok Shop does: its App Store authorizations).
    response = owner_client.get("/integrations/meta/callback/?code=abc", follow=True)
    assert "sent no state" in response.content.decode()


def test_anonymous_callback_goes_to_login_keeping_the_query(client):
    response = client.get("/integrations/tiktok/callback/?code=abc&state=xyz")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("tenants:login"))
    assert "state%3Dxyz" in response["Location"]


def test_reconnect_with_more_packs_keeps_the_same_row(owner_client, sandbox):
    first, _ = Content().connect(owner_client)

    class More(Content):
        packs = ("content_publish",)

    callback = More().consent(More().start(owner_client))
    owner_client.get(callback)
    again = TikTokContentConnection.objects.get()
    assert again.pk == first.pk
    assert again.scope_packs == ["content_publish", "content_analytics"]
    assert {"video.publish", "video.list"} <= set(again.granted_scopes)


def test_connecting_queues_the_first_sync_of_every_kind(owner_client, sandbox, monkeypatch):
    from apps.integrations.models import SyncRun
    from apps.integrations.sync import sync_kinds

    queued = []
    monkeypatch.setattr(
        "apps.integrations.scheduling.enqueue", lambda func, *args: queued.append(args)
    )

    class Ads(ProviderContract):
        provider_key = sandbox_provider = "tiktok_ads"
        packs = ("ads_read",)

    conn, _ = Ads().connect(owner_client)
    kinds = {k.kind for k in sync_kinds.for_product("tiktok_ads")}
    runs = SyncRun.objects.filter(connection_id=conn.pk, product="tiktok_ads")
    assert {r.kind for r in runs} == kinds
    assert sorted(queued) == sorted((r.pk,) for r in runs)
