"""The ad platform apps' answers to capi, as registered: TikTok Ads and Meta, end to end.

No fake platform here: the registrations made in ``TikTokAdsConfig.ready()``
and ``MetaAdsConfig.ready()`` answer from their own tables, and the events
go to the sandbox with the tokens they hand out.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.capi.dispatch import dispatch
from apps.capi.models import ConversionEvent, ConversionMapping
from apps.capi.registry import conversion_platforms
from apps.capi.selectors import configured_targets
from apps.capi.services import mapping_for
from apps.meta_ads.models import MetaAdAccount, MetaAdAccountAccess, MetaProfile, WhatsAppNumber
from apps.tiktok_ads.models import TikTokAdsConnection, TikTokPixel

from .conftest import make_ticket, move

pytestmark = pytest.mark.django_db

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
DATASET_ID = "9876543210987654"
AD_ACCOUNT = "1234567890"


def test_both_platform_apps_are_registered():
    assert {"meta", "tiktok"} <= set(conversion_platforms.platforms())


# --- TikTok Ads -------------------------------------------------------------------------------


@pytest.fixture
def tiktok_connection(tenant_a, tiktok_token) -> TikTokAdsConnection:
    return TikTokAdsConnection.objects.create(tenant=tenant_a, access_token=tiktok_token)


def _pixel(tenant, connection, *, chosen: bool, code: str = "CUIVTBIE2FSNIPZQ4IYE") -> TikTokPixel:
    return TikTokPixel.objects.create(
        tenant=tenant,
        connection=connection,
        advertiser_id="7678455504112693940",
        pixel_id=f"74364276354805{len(code)}{int(chosen)}",
        pixel_code=code,
        name="Website pixel",
        is_conversion_pixel=chosen,
        synced_at=timezone.now(),
    )


def test_tiktok_destination_is_the_conversion_pixel_chosen_on_the_card(tenant_a, tiktok_connection):
    tiktok = conversion_platforms.get("tiktok")
    mapping = mapping_for(tenant_a)
    _pixel(tenant_a, tiktok_connection, chosen=False, code="OTHERPIXEL")
    assert tiktok.targets(tenant=tenant_a, mapping=mapping) == []
    _pixel(tenant_a, tiktok_connection, chosen=True)
    [target] = tiktok.targets(tenant=tenant_a, mapping=mapping)
    assert (target.external_id, target.kind) == ("CUIVTBIE2FSNIPZQ4IYE", "pixel")


def test_tiktok_token_is_the_live_connections(tenant_a, tiktok_connection):
    tiktok = conversion_platforms.get("tiktok")
    assert tiktok.access_token(tenant=tenant_a, destination=None) == (
        tiktok_connection.access_token.reveal()
    )
    tiktok_connection.status = "disconnected"
    tiktok_connection.save()
    assert tiktok.access_token(tenant=tenant_a, destination=None) is None


def test_tiktok_ticket_without_a_chosen_pixel_has_no_destination(
    tenant_a, tiktok_connection, kicks, django_capture_on_commit_callbacks
):
    ticket = make_ticket(
        tenant_a, platform="tiktok", ttclid="E.C.P.abc", channel="tiktok_lead_form"
    )
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "qualified")
    assert ConversionEvent.objects.get().status == "skipped_no_destination"


# --- Meta -------------------------------------------------------------------------------------


@pytest.fixture
def meta_setup(tenant_a, meta_token):
    """A profile with the Business Messaging permission, a tracked ad account, a WhatsApp number."""
    profile = MetaProfile.objects.create(
        tenant=tenant_a,
        access_token=meta_token,
        external_user_id="10000000000001",
        granted_scopes=[
            "ads_read",
            "whatsapp_business_management",
            "whatsapp_business_manage_events",
        ],
    )
    account = MetaAdAccount.objects.create(
        tenant=tenant_a,
        account_id=AD_ACCOUNT,
        name="Acme ads",
        tracking_enabled=True,
        pixel_id="555000111222333",
        pixel_name="Acme pixel",
        synced_at=timezone.now(),
    )
    MetaAdAccountAccess.objects.create(
        tenant=tenant_a, profile=profile, ad_account=account, seen_at=timezone.now()
    )
    number = WhatsAppNumber.objects.create(
        tenant=tenant_a,
        phone_number_id=PHONE_NUMBER_ID,
        waba_id=WABA_ID,
        display_phone_number="+55 11 4000-0000",
        conversions_enabled=True,
        conversions_dataset_id=DATASET_ID,
    )
    return profile, account, number


def _qualify(tenant, capture) -> ConversionEvent:
    ticket = make_ticket(tenant, account_ref=PHONE_NUMBER_ID, ad_account_id=AD_ACCOUNT)
    with capture(execute=True):
        move(ticket, "qualified")
    return ConversionEvent.objects.get(ticket=ticket)


def test_meta_whatsapp_ticket_goes_to_the_wabas_dataset(
    tenant_a, sandbox, meta_setup, kicks, django_capture_on_commit_callbacks
):
    event = _qualify(tenant_a, django_capture_on_commit_callbacks)
    assert (event.status, event.destination.external_id) == ("pending", DATASET_ID)
    assert event.payload["user_data"]["whatsapp_business_account_id"] == WABA_ID
    dispatch()
    event.refresh_from_db()
    assert event.status == "sent"
    [call] = [c for c in sandbox.mock.calls if f"/{DATASET_ID}/events" in c.request.url]
    assert json.loads(call.request.body)["data"][0]["event_name"] == "LeadSubmitted"


def test_meta_can_send_to_the_ad_accounts_pixel_instead(
    tenant_a, sandbox, meta_setup, kicks, django_capture_on_commit_callbacks
):
    ConversionMapping.objects.create(
        tenant=tenant_a, meta_target=ConversionMapping.MetaTarget.AD_ACCOUNT_PIXEL
    )
    event = _qualify(tenant_a, django_capture_on_commit_callbacks)
    assert event.destination.external_id == "555000111222333"
    assert event.payload["user_data"]["whatsapp_business_account_id"] == WABA_ID
    dispatch()
    event.refresh_from_db()
    assert event.status == "sent"


def test_meta_tracking_off_means_no_destination(
    tenant_a, sandbox, meta_setup, kicks, django_capture_on_commit_callbacks
):
    _profile, account, _number = meta_setup
    account.tracking_enabled = False
    account.save()
    event = _qualify(tenant_a, django_capture_on_commit_callbacks)
    assert event.status == "skipped_no_destination"
    dispatch()
    assert not [c for c in sandbox.mock.calls if "/events" in c.request.url]


def test_meta_destinations_listed_for_the_tab(tenant_a, meta_setup):
    targets = configured_targets(tenant=tenant_a, mapping=mapping_for(tenant_a))
    assert {(p, t.external_id, t.kind) for p, t in targets} == {
        ("meta", DATASET_ID, "waba_dataset"),
        ("meta", "555000111222333", "pixel"),
    }


def test_purchase_value_goes_to_meta(
    tenant_a, sandbox, meta_setup, kicks, django_capture_on_commit_callbacks
):
    ticket = make_ticket(tenant_a, account_ref=PHONE_NUMBER_ID, ad_account_id=AD_ACCOUNT)
    with django_capture_on_commit_callbacks(execute=True):
        move(ticket, "won", value=Decimal("1500.00"), currency="BRL")
    dispatch()
    event = ConversionEvent.objects.get(ticket=ticket)
    assert (event.event_name, event.status, event.value) == ("Purchase", "sent", Decimal("1500.00"))
    assert event.payload["custom_data"] == {"value": 1500.0, "currency": "BRL"}
