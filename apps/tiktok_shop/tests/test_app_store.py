"""Authorizations started in the Seller Center App Store arrive without ``state``.

The hub never attaches them silently: the code is held server-side, and the
logged-in user must pick one of the tenants they administer. Members,
strangers and anonymous users cannot complete it.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.integrations.models import SyncRun
from apps.sandbox import generator
from apps.tenants.models import Membership
from apps.tiktok_shop.models import PendingShopAuthorization, Shop, TikTokShopConnection

pytestmark = pytest.mark.django_db

CALLBACK = "/integrations/tiktok/callback/"


def app_store_callback() -> str:
    """What the seller's browser is sent to after authorizing in the App Store: no state."""
    authorize = urlsplit(settings.TIKTOK_SHOP_AUTHORIZE_URL).path
    query = urlencode({"service_id": settings.TIKTOK_SHOP_SERVICE_ID})
    seller = generator.identities("tiktok_shop")[0].account_id
    answer = Client().post(f"{authorize}?{query}", {"decision": "app_store", "account_id": seller})
    assert answer.status_code == 302, answer.content
    back = urlsplit(answer["Location"])
    assert back.path == CALLBACK and "state" not in back.query
    return f"{back.path}?{back.query}"


def confirm_url(client, callback: str) -> str:
    response = client.get(callback)
    assert response.status_code == 302, response.content
    return response["Location"]


def test_a_stateless_callback_holds_the_code_and_asks_which_tenant(owner_client, sandbox):
    url = confirm_url(owner_client, app_store_callback())

    assert url.startswith("/integrations/tiktok-shop/app-store/")
    page = owner_client.get(url)
    assert page.status_code == 200
    assert "Choose which tenant the shop joins" in page.content.decode()
    assert "Acme" in page.content.decode()
    # Nothing was exchanged or saved: the code is only held.
    assert not TikTokShopConnection.objects.exists()
    assert sandbox.calls() == 0
    pending = PendingShopAuthorization.objects.get()
    assert pending.consumed_at is None
    assert pending.code.reveal() not in url


def test_the_admin_attaches_the_shop_to_the_tenant_they_choose(
    owner_client, owner_a, make_tenant, sandbox
):
    other = make_tenant("initech", "Initech")
    Membership.objects.create(user=owner_a, tenant=other, role=Membership.Role.ADMIN)
    url = confirm_url(owner_client, app_store_callback())

    response = owner_client.post(
        url, {"tenant": other.pk, "packs": ["shop_orders", "shop_catalog"], "decision": "attach"}
    )

    assert response.status_code == 302
    connection = TikTokShopConnection.objects.get()
    assert connection.tenant == other
    assert connection.connected_by == owner_a
    assert connection.scope_packs == ["shop_catalog", "shop_orders"]
    assert Shop.objects.filter(tenant=other).count() == 2
    assert SyncRun.objects.filter(product="tiktok_shop", kind="orders").exists()
    hub = owner_client.get(response["Location"]).content.decode()
    assert "TikTok Shop connected to Initech." in hub
    # Single use: the same link cannot attach it again.
    assert owner_client.post(url, {"tenant": other.pk, "packs": ["shop_orders"]}).status_code == 302
    assert TikTokShopConnection.objects.count() == 1


def test_a_sensitive_pack_needs_the_explicit_confirmation(owner_client, tenant_a, sandbox):
    url = confirm_url(owner_client, app_store_callback())

    refused = owner_client.post(url, {"tenant": tenant_a.pk, "packs": ["shop_orders", "shop_chat"]})

    assert refused.status_code == 400
    assert "confirm them" in refused.content.decode()
    assert not TikTokShopConnection.objects.exists()
    accepted = owner_client.post(
        url,
        {"tenant": tenant_a.pk, "packs": ["shop_orders", "shop_chat"], "confirm_sensitive": "on"},
    )
    assert accepted.status_code == 302
    assert TikTokShopConnection.objects.get().scope_packs == ["shop_orders", "shop_chat"]


def test_a_tenant_where_the_user_is_only_a_member_cannot_be_chosen(
    owner_client, owner_a, make_tenant, sandbox
):
    elsewhere = make_tenant("umbrella", "Umbrella")
    Membership.objects.create(user=owner_a, tenant=elsewhere, role=Membership.Role.MEMBER)
    url = confirm_url(owner_client, app_store_callback())

    page = owner_client.get(url).content.decode()
    assert f'name="tenant" value="{elsewhere.pk}"' not in page
    response = owner_client.post(url, {"tenant": elsewhere.pk, "packs": ["shop_orders"]})

    assert response.status_code == 400
    assert not TikTokShopConnection.objects.exists()
    assert PendingShopAuthorization.objects.get().consumed_at is None


def test_a_plain_member_is_told_only_admins_can_attach_a_shop(member_client, sandbox):
    url = confirm_url(member_client, app_store_callback())

    page = member_client.get(url)
    posted = member_client.post(url, {"tenant": 1, "packs": ["shop_orders"]})

    assert page.status_code == 403
    assert "Only a tenant admin" in page.content.decode()
    assert posted.status_code == 403
    assert not TikTokShopConnection.objects.exists()


def test_another_user_cannot_use_someone_elses_pending_authorization(
    owner_client, make_member, tenant_a, sandbox
):
    url = confirm_url(owner_client, app_store_callback())
    intruder = Client()
    intruder.force_login(make_member(tenant_a, Membership.Role.ADMIN, "admin2@acme.example"))

    response = intruder.post(url, {"tenant": tenant_a.pk, "packs": ["shop_orders"]}, follow=True)

    assert "not valid" in response.content.decode()
    assert not TikTokShopConnection.objects.exists()


def test_an_anonymous_user_goes_to_log_in_first_and_nothing_is_held(client, sandbox):
    response = client.get(app_store_callback())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("tenants:login"))
    assert not PendingShopAuthorization.objects.exists()


def test_a_held_authorization_expires(owner_client, tenant_a, sandbox):
    url = confirm_url(owner_client, app_store_callback())
    PendingShopAuthorization.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = owner_client.post(
        url, {"tenant": tenant_a.pk, "packs": ["shop_orders"]}, follow=True
    )

    assert "expired" in response.content.decode()
    assert not TikTokShopConnection.objects.exists()


def test_cancel_attaches_nothing(owner_client, tenant_a, sandbox):
    url = confirm_url(owner_client, app_store_callback())

    response = owner_client.post(url, {"decision": "cancel"}, follow=True)

    assert "not attached" in response.content.decode()
    assert not TikTokShopConnection.objects.exists()


def test_a_refusal_from_the_app_store_is_reported_without_holding_anything(owner_client):
    response = owner_client.get(f"{CALLBACK}?code=null&error=auth_denied", follow=True)

    assert "declined" in response.content.decode()
    assert not PendingShopAuthorization.objects.exists()


def test_a_callback_with_state_still_goes_through_the_normal_flow(owner_client, sandbox):
    from .test_contract import TestTikTokShopContract

    connection, response = TestTikTokShopContract().connect(owner_client)

    assert "TikTok Shop connected." in response.content.decode()
    assert not PendingShopAuthorization.objects.exists()
    assert Shop.objects.filter(connection=connection).count() == 2
