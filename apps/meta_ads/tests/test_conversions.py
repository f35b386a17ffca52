"""MetaConversions: where capi sends a ticket's Meta events, and with which token."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apps.capi.registry import TicketFacts, conversion_platforms
from apps.integrations.models import ConnectionStatus
from apps.meta_ads.conversions import MetaConversions
from apps.meta_ads.models import WhatsAppNumber

from .test_sync import make_account, make_profile

pytestmark = pytest.mark.django_db

PHONE = "109876543210987"
WABA = "104523789012345"


def mapping(target: str = "waba_dataset"):
    return SimpleNamespace(meta_target=target)


@pytest.fixture
def setup(tenant_a):
    profile = make_profile(tenant_a)
    account = make_account(tenant_a, "1585564276644314", tracked=True, profiles=[profile])
    account.pixel_id, account.pixel_name = "823456789012345", "Dataset WhatsApp"
    account.save()
    number = WhatsAppNumber.objects.create(
        tenant=tenant_a,
        phone_number_id=PHONE,
        waba_id=WABA,
        conversions_enabled=True,
        conversions_dataset_id="9123456789012345",
    )
    return profile, account, number


def facts(tenant, account_id="1585564276644314", account_ref=PHONE) -> TicketFacts:
    return TicketFacts(
        tenant=tenant,
        ticket_id=1,
        channel="whatsapp",
        account_ref=account_ref,
        ad_account_id=account_id,
    )


def test_registered_for_capi():
    assert isinstance(conversion_platforms.get("meta"), MetaConversions)


def test_the_waba_dataset_of_the_number_by_default(setup, tenant_a):
    target = MetaConversions().target_for(facts=facts(tenant_a), mapping=mapping())

    assert (target.external_id, target.kind, target.waba_id) == (
        "9123456789012345",
        "waba_dataset",
        WABA,
    )


def test_the_pixel_chosen_on_the_ad_account_when_the_mapping_says_so(setup, tenant_a):
    target = MetaConversions().target_for(
        facts=facts(tenant_a), mapping=mapping("ad_account_pixel")
    )

    assert (target.external_id, target.kind, target.label, target.waba_id) == (
        "823456789012345",
        "pixel",
        "Dataset WhatsApp",
        WABA,
    )


def test_no_destination_when_tracking_is_off_or_the_account_unknown(setup, tenant_a):
    _profile, account, _number = setup
    platform = MetaConversions()

    assert platform.target_for(facts=facts(tenant_a, account_id=""), mapping=mapping()) is None
    assert platform.target_for(facts=facts(tenant_a, account_id="999"), mapping=mapping()) is None
    account.tracking_enabled = False
    account.save()
    assert platform.target_for(facts=facts(tenant_a), mapping=mapping()) is None


def test_no_destination_when_conversions_are_off_for_the_number(setup, tenant_a):
    _profile, _account, number = setup
    number.conversions_enabled = False
    number.save()

    assert MetaConversions().target_for(facts=facts(tenant_a), mapping=mapping()) is None


def test_another_tenants_rows_are_never_a_destination(setup, tenant_b):
    assert MetaConversions().target_for(facts=facts(tenant_b), mapping=mapping()) is None
    assert MetaConversions().targets(tenant=tenant_b, mapping=mapping()) == []


def test_targets_lists_datasets_and_pixels(setup, tenant_a):
    targets = MetaConversions().targets(tenant=tenant_a, mapping=mapping())

    assert [(t.external_id, t.kind) for t in targets] == [
        ("9123456789012345", "waba_dataset"),
        ("823456789012345", "pixel"),
    ]


def test_tokens_come_from_a_working_profile_that_can_post(setup, tenant_a):
    profile, _account, _number = setup
    platform = MetaConversions()
    pixel = SimpleNamespace(kind="pixel", external_id="823456789012345")
    dataset = SimpleNamespace(kind="waba_dataset", external_id="9123456789012345")

    assert (
        platform.access_token(tenant=tenant_a, destination=pixel) == profile.access_token.reveal()
    )
    assert platform.access_token(tenant=tenant_a, destination=dataset) is None  # no permission
    profile.granted_scopes = ["whatsapp_business_management", "whatsapp_business_manage_events"]
    profile.save()
    assert (
        platform.access_token(tenant=tenant_a, destination=dataset) == profile.access_token.reveal()
    )
    profile.status = ConnectionStatus.EXPIRED
    profile.save()
    assert platform.access_token(tenant=tenant_a, destination=pixel) is None
    assert platform.access_token(tenant=tenant_a, destination=dataset) is None
