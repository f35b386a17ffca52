"""The Meta card (profiles, ad accounts, tracking, pixels), the WhatsApp page, the callbacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import responses
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.integrations.models import AuditEntry, ConnectionStatus
from apps.integrations.registry import providers
from apps.integrations.services import connection_mark_expiring
from apps.integrations.testing import load_fixture
from apps.meta_ads.models import (
    MetaAdAccount,
    MetaAdAccountAccess,
    MetaDataDeletionRequest,
    MetaProfile,
    WhatsAppNumber,
)
from apps.meta_ads.services import InvalidSignedRequest, signed_request_parse

from .test_sync import make_account, make_profile

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
HUB = "/integrations/?tab=meta"
GRAPH = "https://graph.facebook.com/v25.0"
ONLINE = "1585564276644314"


@pytest.fixture
def mocked(settings):
    settings.META_GRAPH_BASE = "https://graph.facebook.com"
    settings.META_GRAPH_VERSION = "v25.0"
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def profile(tenant_a) -> MetaProfile:
    return make_profile(tenant_a)


@pytest.fixture
def account(tenant_a, profile) -> MetaAdAccount:
    return make_account(tenant_a, ONLINE, tracked=False, profiles=[profile])


# --- the card ---------------------------------------------------------------------------------


def test_the_card_lists_profiles_with_status_and_expiry(owner_client, tenant_a):
    ends = timezone.now() + timedelta(days=40)
    MetaProfile.objects.create(
        tenant=tenant_a,
        access_token="EAAa",
        external_user_id="1",
        display_name="Gabriela Rocha",
        access_expires_at=ends,
        assets={"declined": ["ads_management"]},
        scope_packs=["meta_ads"],
    )
    MetaProfile.objects.create(
        tenant=tenant_a,
        access_token="EAAb",
        external_user_id="2",
        display_name="Heitor Alves",
        status=ConnectionStatus.EXPIRED,
        access_expires_at=ends,
        scope_packs=["meta_ads"],
    )

    body = owner_client.get(HUB).content.decode()

    assert "Gabriela Rocha" in body and "Heitor Alves" in body
    assert ends.strftime("%Y-%m-%d") in body
    assert "Expired" in body
    assert "Declined permissions:" in body and "<code>ads_management</code>" in body
    assert "Ask again for declined permissions" in body
    assert "Reconnect" in body


def test_ask_again_reconnects_that_profile_with_rerequest(owner_client, tenant_a, settings):
    profile = MetaProfile.objects.create(
        tenant=tenant_a,
        access_token="EAAa",
        external_user_id="1",
        assets={"declined": ["ads_management"]},
        scope_packs=["meta_ads"],
    )

    response = owner_client.post(
        reverse("integrations:connect", args=["meta_ads"]),
        {"connection": str(profile.pk), "packs": ["meta_ads"]},
    )

    assert response.status_code == 302
    assert response["Location"].startswith(settings.META_DIALOG_URL)
    assert "auth_type=rerequest" in response["Location"]


def test_a_profile_turns_expiring_a_week_before_its_token_ends(tenant_a):
    soon = make_profile(tenant_a, 1)
    soon.access_expires_at = timezone.now() + timedelta(days=6)
    soon.save()
    later = make_profile(tenant_a, 2)
    later.access_expires_at = timezone.now() + timedelta(days=30)
    later.save()
    never = make_profile(tenant_a, 3)  # Login for Business: no expiry

    connection_mark_expiring(provider=providers.get("meta_ads"))

    statuses = dict(MetaProfile.objects.values_list("pk", "status"))
    assert statuses == {
        soon.pk: ConnectionStatus.EXPIRING,
        later.pk: ConnectionStatus.CONNECTED,
        never.pk: ConnectionStatus.CONNECTED,
    }


def test_a_non_expiring_token_says_so(owner_client, profile):
    assert "This token does not expire" in owner_client.get(HUB).content.decode()


def test_members_see_accounts_but_no_switch(member_client, account):
    body = member_client.get(HUB).content.decode()

    assert f'data-account="{ONLINE}"' in body
    assert "Turn tracking on" not in body
    assert '<span class="hint">Tracking: off</span>' in body


def test_the_meta_tab_costs_the_same_queries_for_1_and_20_accounts(owner_client, tenant_a):
    profiles = [make_profile(tenant_a, n) for n in range(1, 3)]
    make_account(tenant_a, "2000", profiles=profiles)
    with CaptureQueriesContext(db_connection) as one:
        owner_client.get(HUB)
    for n in range(2001, 2020):
        make_account(tenant_a, str(n), profiles=profiles)
    with CaptureQueriesContext(db_connection) as twenty:
        body = owner_client.get(HUB).content.decode()

    assert body.count('class="meta-account"') == 20
    assert len(twenty) == len(one)


# --- tracking switch and pixel picker ----------------------------------------------------------


def test_turning_tracking_on_lists_the_pixels_from_the_api(owner_client, account, mocked):
    mocked.get(
        f"{GRAPH}/act_{ONLINE}/adspixels", json=load_fixture("meta_ads", "act_adspixels__success")
    )

    response = owner_client.post(
        reverse("meta_ads:ad_account_tracking", args=[account.pk]), {"enabled": "on"}, **HTMX
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="meta-account-{account.pk}"' in body
    assert 'aria-checked="true"' in body
    assert "Loja Online · Dataset WhatsApp" in body
    assert "Old pixel (unavailable)" not in body  # unavailable pixels are not offered
    account.refresh_from_db()
    assert account.tracking_enabled
    assert [p["id"] for p in account.pixels] == ["812345678901234", "823456789012345"]


def test_choosing_a_pixel_and_turning_tracking_off_without_javascript(
    owner_client, account, mocked
):
    mocked.get(
        f"{GRAPH}/act_{ONLINE}/adspixels", json=load_fixture("meta_ads", "act_adspixels__success")
    )
    url = reverse("meta_ads:ad_account_tracking", args=[account.pk])
    owner_client.post(url, {"enabled": "on"})

    response = owner_client.post(
        reverse("meta_ads:ad_account_pixel", args=[account.pk]), {"pixel": "823456789012345"}
    )

    assert response.status_code == 302 and response["Location"] == HUB
    account.refresh_from_db()
    assert (account.pixel_id, account.pixel_name) == (
        "823456789012345",
        "Loja Online · Dataset WhatsApp",
    )
    owner_client.post(url, {"enabled": "off"})
    account.refresh_from_db()
    assert account.tracking_enabled is False
    assert account.pixel_id == "823456789012345"  # kept for when it is turned on again


def test_a_pixel_the_api_did_not_list_is_refused(owner_client, account):
    account.tracking_enabled = True
    account.pixels = [{"id": "1", "name": "Mine"}]
    account.save()

    response = owner_client.post(
        reverse("meta_ads:ad_account_pixel", args=[account.pk]), {"pixel": "999"}, **HTMX
    )

    assert "not one of this ad account" in response.content.decode()
    account.refresh_from_db()
    assert account.pixel_id == ""


def test_a_disabled_account_cannot_be_tracked(owner_client, account):
    account.status = 2
    account.save()

    response = owner_client.post(
        reverse("meta_ads:ad_account_tracking", args=[account.pk]), {"enabled": "on"}, follow=True
    )

    assert "cannot be tracked" in response.content.decode()
    account.refresh_from_db()
    assert account.tracking_enabled is False


def test_pixels_failing_to_load_keep_tracking_on_and_say_why(owner_client, account, mocked):
    mocked.get(
        f"{GRAPH}/act_{ONLINE}/adspixels",
        status=400,
        json=load_fixture("meta_ads", "error__permission_200"),
    )

    response = owner_client.post(
        reverse("meta_ads:ad_account_tracking", args=[account.pk]), {"enabled": "on"}, **HTMX
    )

    body = response.content.decode()
    assert "the pixels could not be listed" in body
    assert "No connected profile reaches ad account" in body
    account.refresh_from_db()
    assert account.tracking_enabled


def test_members_cannot_switch_tracking(member_client, account):
    response = member_client.post(
        reverse("meta_ads:ad_account_tracking", args=[account.pk]), {"enabled": "on"}
    )

    assert response.status_code == 403
    account.refresh_from_db()
    assert account.tracking_enabled is False


def test_another_tenants_account_is_404(owner_client, tenant_b):
    other = make_account(tenant_b, "3000", tracked=False)

    for name in ("ad_account_tracking", "ad_account_pixel", "ad_account_pixels"):
        response = owner_client.post(
            reverse(f"meta_ads:{name}", args=[other.pk]), {"enabled": "on"}
        )
        assert response.status_code == 404
    other.refresh_from_db()
    assert other.tracking_enabled is False


def test_the_forms_carry_csrf_tokens(owner_client, account):
    body = owner_client.get(HUB).content.decode()
    form = body[body.index('class="inline-form meta-tracking"') :]
    assert "csrfmiddlewaretoken" in form[: form.index("</form>")]


# --- WhatsApp numbers ---------------------------------------------------------------------------


def test_an_admin_registers_a_number(owner_client, tenant_a):
    response = owner_client.post(
        reverse("meta_ads:whatsapp"),
        {
            "phone_number_id": "109876543210987",
            "waba_id": "104523789012345",
            "display_phone_number": "+55 11 93000-1000",
            "verified_name": "Loja",
        },
        follow=True,
    )

    assert "registered" in response.content.decode()
    number = WhatsAppNumber.objects.get()
    assert (number.tenant, number.phone_number_id) == (tenant_a, "109876543210987")


def test_a_number_is_unique_across_tenants(owner_client, tenant_b):
    WhatsAppNumber.objects.create(tenant=tenant_b, phone_number_id="109876543210987", waba_id="1")

    response = owner_client.post(
        reverse("meta_ads:whatsapp"), {"phone_number_id": "109876543210987", "waba_id": "2"}
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert WhatsAppNumber.objects.count() == 1


def test_ids_must_be_numeric(owner_client):
    response = owner_client.post(
        reverse("meta_ads:whatsapp"), {"phone_number_id": "+55 11 9", "waba_id": "abc"}
    )

    assert response.content.decode().count("Use the numeric id Meta shows.") == 2
    assert not WhatsAppNumber.objects.exists()


def test_members_see_numbers_but_cannot_register(member_client, tenant_a):
    WhatsAppNumber.objects.create(tenant=tenant_a, phone_number_id="111", waba_id="1")

    page = member_client.get(reverse("meta_ads:whatsapp")).content.decode()
    refused = member_client.post(
        reverse("meta_ads:whatsapp"), {"phone_number_id": "2", "waba_id": "3"}
    )

    assert "111" in page and "Register number" not in page
    assert refused.status_code == 403
    assert WhatsAppNumber.objects.count() == 1


def test_conversions_on_creates_or_fetches_the_waba_dataset(owner_client, tenant_a, mocked):
    granted = make_profile(tenant_a, 1)
    granted.granted_scopes = ["whatsapp_business_management", "whatsapp_business_manage_events"]
    granted.save()
    number = WhatsAppNumber.objects.create(
        tenant=tenant_a, phone_number_id="111", waba_id="104523789012345"
    )
    mocked.post(
        f"{GRAPH}/104523789012345/dataset", json=load_fixture("meta_ads", "waba_dataset__success")
    )

    owner_client.post(reverse("meta_ads:whatsapp_conversions", args=[number.pk]), {"enabled": "on"})

    number.refresh_from_db()
    assert (number.conversions_enabled, number.conversions_dataset_id) == (True, "9123456789012345")
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.outcome, audit.after) == (
        "whatsapp_dataset",
        "succeeded",
        {"dataset_id": "9123456789012345"},
    )


def test_conversions_fall_over_when_a_token_is_dead(owner_client, tenant_a, mocked):
    profiles = [make_profile(tenant_a, n) for n in (1, 2)]
    for p in profiles:
        p.granted_scopes = ["whatsapp_business_management"]
        p.save()
    number = WhatsAppNumber.objects.create(tenant=tenant_a, phone_number_id="111", waba_id="77")
    mocked.post(
        f"{GRAPH}/77/dataset", status=400, json=load_fixture("meta_ads", "error__expired_token_190")
    )
    mocked.post(f"{GRAPH}/77/dataset", json=load_fixture("meta_ads", "waba_dataset__success"))

    owner_client.post(reverse("meta_ads:whatsapp_conversions", args=[number.pk]), {"enabled": "on"})

    number.refresh_from_db()
    assert number.conversions_dataset_id == "9123456789012345"
    assert MetaProfile.objects.get(pk=profiles[0].pk).status == ConnectionStatus.EXPIRED


def test_conversions_without_a_permitted_profile_say_so(owner_client, tenant_a, profile):
    number = WhatsAppNumber.objects.create(tenant=tenant_a, phone_number_id="111", waba_id="77")

    response = owner_client.post(
        reverse("meta_ads:whatsapp_conversions", args=[number.pk]), {"enabled": "on"}, follow=True
    )

    assert "WhatsApp conversions permissions" in response.content.decode()
    number.refresh_from_db()
    assert number.conversions_enabled is False
    assert AuditEntry.objects.get().outcome == "failed"


def test_removing_a_number_stops_routing(owner_client, tenant_a, tenant_b):
    mine = WhatsAppNumber.objects.create(tenant=tenant_a, phone_number_id="111", waba_id="1")
    theirs = WhatsAppNumber.objects.create(tenant=tenant_b, phone_number_id="222", waba_id="2")

    owner_client.post(reverse("meta_ads:whatsapp_delete", args=[mine.pk]))
    refused = owner_client.post(reverse("meta_ads:whatsapp_delete", args=[theirs.pk]))

    assert refused.status_code == 404
    assert list(WhatsAppNumber.objects.values_list("phone_number_id", flat=True)) == ["222"]


# --- deauthorize and data deletion (contract §1.8) ----------------------------------------------


def signed_request(payload: dict, secret: str) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    body = b64(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{b64(signature)}.{body}"


def test_the_contract_signed_request_vector_verifies():
    vector = (
        "Mf_s6nTb38UYqioBmPqu0Ewm9souPZB9I2fIGwV729U."
        "eyJ1c2VyX2lkIjoiMCIsImFsZ29yaXRobSI6IkhNQUMtU0hBMjU2IiwiaXNzdWVkX2F0IjoxNjI0MjQ0MTU2fQ"
    )

    payload = signed_request_parse(vector, app_secret="key", max_age=None)

    assert payload == {"user_id": "0", "algorithm": "HMAC-SHA256", "issued_at": 1624244156}
    with pytest.raises(InvalidSignedRequest, match="bad signature"):
        signed_request_parse(vector, app_secret="another", max_age=None)
    with pytest.raises(InvalidSignedRequest, match="too old"):
        signed_request_parse(vector, app_secret="key")


@pytest.mark.parametrize("value", ["", "nodot", "a.b", "!!!.???"])
def test_malformed_signed_requests_are_refused(value):
    with pytest.raises(InvalidSignedRequest):
        signed_request_parse(value, app_secret="key")


def test_deauthorize_disconnects_that_users_profiles_in_every_tenant(
    client, settings, tenant_a, tenant_b
):
    settings.META_APP_SECRET = "test_app_secret"
    mine = MetaProfile.objects.create(tenant=tenant_a, access_token="EAAx", external_user_id="42")
    theirs = MetaProfile.objects.create(tenant=tenant_b, access_token="EAAy", external_user_id="42")
    other = MetaProfile.objects.create(tenant=tenant_a, access_token="EAAz", external_user_id="7")
    payload = {"user_id": "42", "algorithm": "HMAC-SHA256", "issued_at": int(time.time())}

    response = client.post(
        reverse("meta_ads:deauthorize"),
        {"signed_request": signed_request(payload, "test_app_secret")},
    )

    assert response.status_code == 200
    for row in (mine, theirs):
        row.refresh_from_db()
        assert row.status == ConnectionStatus.DISCONNECTED
        assert row.access_token is None
    other.refresh_from_db()
    assert other.status == ConnectionStatus.CONNECTED


def test_a_badly_signed_deauthorize_changes_nothing(client, settings, tenant_a):
    settings.META_APP_SECRET = "test_app_secret"
    mine = MetaProfile.objects.create(tenant=tenant_a, access_token="EAAx", external_user_id="42")
    payload = {"user_id": "42", "algorithm": "HMAC-SHA256", "issued_at": int(time.time())}

    response = client.post(
        reverse("meta_ads:deauthorize"), {"signed_request": signed_request(payload, "wrong")}
    )

    assert response.status_code == 400
    mine.refresh_from_db()
    assert mine.status == ConnectionStatus.CONNECTED


def test_data_deletion_deletes_and_answers_url_and_confirmation_code(client, settings, tenant_a):
    settings.META_APP_SECRET = "test_app_secret"
    profile = MetaProfile.objects.create(
        tenant=tenant_a, access_token="EAAx", external_user_id="42"
    )
    account = make_account(tenant_a, ONLINE, profiles=[profile])
    payload = {
        "user_id": "42",
        "algorithm": "HMAC-SHA256",
        "issued_at": int(time.time()),
        "expires": int(time.time()) + 3600,
    }

    response = client.post(
        reverse("meta_ads:data_deletion"),
        {"signed_request": signed_request(payload, "test_app_secret")},
    )

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"url", "confirmation_code"}
    assert answer["confirmation_code"].isalnum()
    assert answer["url"] == (
        f"{settings.PUBLIC_BASE_URL}/integrations/meta-ads/data-deletion/{answer['confirmation_code']}/"
    )
    assert not MetaProfile.objects.exists()
    assert not MetaAdAccountAccess.objects.exists()
    assert MetaAdAccount.objects.filter(pk=account.pk).exists()  # the business's data stays
    record = MetaDataDeletionRequest.objects.get()
    assert record.profiles_deleted == 1
    assert record.user_hash == hashlib.sha256(b"42").hexdigest()

    status = client.get(answer["url"].removeprefix(settings.PUBLIC_BASE_URL))
    assert status.status_code == 200
    assert answer["confirmation_code"] in status.content.decode()
    assert "Completed" in status.content.decode()
    assert client.get("/integrations/meta-ads/data-deletion/unknown/").status_code == 404


def test_callbacks_refuse_get(client):
    assert client.get(reverse("meta_ads:deauthorize")).status_code == 405
    assert client.get(reverse("meta_ads:data_deletion")).status_code == 405
