"""The sandbox's Marketing API and WhatsApp side, and ``sandbox_fire_whatsapp``.

The emulated Graph answers are read through the hub's own client, so these
tests also prove the client and the sandbox agree on shapes and errors.
"""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from apps.integrations.http import PermissionDenied, ProviderError, RateLimited, TokenExpired
from apps.meta_ads.client import MetaClient
from apps.meta_ads.models import WhatsAppNumber
from apps.meta_ads.services import profile_client
from apps.sandbox import grants, meta_data
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import drain, drain_kicker

from .conftest import connect_profile, sandbox_user

pytestmark = pytest.mark.django_db

FIRST, SHARED, THIRD, DISABLED = meta_data.ad_accounts()


@pytest.fixture
def profile(owner_client, sandbox):
    return connect_profile(owner_client, 0)


@pytest.fixture
def client_of(profile) -> MetaClient:
    client = profile_client(profile)
    client._sleep = lambda seconds: None
    return client


def test_users_reach_two_accounts_and_neighbours_share_one():
    users = [sandbox_user(i).account_id for i in range(3)]

    reach = [{a.account_id for a in meta_data.accounts_of(u)} for u in users]

    assert reach[0] & reach[1] == {SHARED.account_id}
    assert reach[1] & reach[2] == {THIRD.account_id}
    assert not reach[0] & reach[2]
    assert meta_data.accounts_of("123") == []
    assert DISABLED.status == 2


def test_ad_accounts_are_cursor_paged(client_of):
    first, after = client_of.ad_accounts_page(limit=1)
    second, end = client_of.ad_accounts_page(limit=1, after=after)

    assert [a["account_id"] for a in first + second] == [FIRST.account_id, SHARED.account_id]
    assert after is not None and end is None
    assert first[0]["id"] == f"act_{FIRST.account_id}"
    assert first[0]["business"]["name"] == "Loja Centro Ltda"


def test_pixels_and_the_ad_node(client_of):
    pixels = client_of.ads_pixels(account_id=SHARED.account_id)
    ad = meta_data.default_ad()
    answer = client_of.ad(ad_id=ad.ad_id)

    assert [p["name"] for p in pixels] == [
        "Loja Online · Pixel do site",
        "Loja Online · Dataset WhatsApp",
    ]
    assert answer == {
        "id": ad.ad_id,
        "name": ad.name,
        "account_id": SHARED.account_id,
        "adset": {"id": ad.adset_id, "name": ad.adset_name},
        "campaign": {"id": ad.campaign_id, "name": ad.campaign_name},
    }


def test_accounts_and_ads_of_other_users_are_code_100(client_of):
    with pytest.raises(ProviderError) as account_error:
        client_of.ads_pixels(account_id=THIRD.account_id)
    with pytest.raises(ProviderError) as ad_error:
        client_of.ad(ad_id=meta_data.ads_of(THIRD.account_id)[0].ad_id)

    assert account_error.value.code == ad_error.value.code == "100/33"
    assert "does not exist, cannot be loaded due to missing permissions" in str(ad_error.value)


def test_insights_rows_per_ad_and_day_with_messaging_actions(client_of):
    today = SHARED.today()
    since = today - timedelta(days=3)

    rows, after = client_of.insights_page(
        account_id=SHARED.account_id, since=since, until=today, limit=5000
    )

    assert after is None
    assert rows == meta_data.insight_rows(SHARED, since, today)
    assert {r["date_start"] for r in rows} <= {
        (since + timedelta(days=n)).isoformat() for n in range(4)
    }
    messaging = [r for r in rows if r["campaign_id"] == meta_data.default_ad().campaign_id]
    assert all(
        any(a["action_type"] == meta_data.MESSAGING_STARTED for a in r["actions"])
        for r in messaging
    )


def test_insights_refuse_ranges_beyond_37_months(client_of):
    with pytest.raises(ProviderError, match="37 months") as caught:
        client_of.insights_page(
            account_id=SHARED.account_id, since=date(2020, 1, 1), until=date(2020, 1, 2)
        )
    assert caught.value.code == "100"


def test_without_ads_permissions_the_calls_are_code_200(owner_client, sandbox):
    profile = connect_profile(owner_client, 2, decline=("ads_read", "ads_management"))

    with pytest.raises(PermissionDenied) as caught:
        profile_client(profile).ad_accounts_page()

    assert caught.value.code == "200"


def test_a_revoked_user_gets_190_458(client_of):
    grants.revoke_account(provider="meta", account_id=sandbox_user(0).account_id)

    with pytest.raises(TokenExpired) as caught:
        client_of.ad_accounts_page()

    assert caught.value.code == "190/458"


@pytest.mark.parametrize(
    ("setting", "call", "code"),
    [
        ("SANDBOX_META_USER_CALLS_PER_MINUTE", lambda c: c.ad_accounts_page(), "17/2446079"),
        (
            "SANDBOX_META_ACCOUNT_CALLS_PER_MINUTE",
            lambda c: c.ads_pixels(account_id=SHARED.account_id),
            "80004/2446079",
        ),
        (
            "SANDBOX_META_INSIGHTS_CALLS_PER_MINUTE",
            lambda c: c.insights_page(
                account_id=SHARED.account_id, since=date.today(), until=date.today()
            ),
            "613/1487742",
        ),
    ],
)
def test_throttles_answer_the_real_rate_limit_codes(client_of, settings, setting, call, code):
    call(client_of)  # under the default limits
    setattr(settings, setting, 0)

    with pytest.raises(RateLimited) as caught:
        call(client_of)

    assert caught.value.code == code


def test_the_business_use_case_limit_says_when_access_comes_back(client_of, settings):
    settings.SANDBOX_META_ACCOUNT_CALLS_PER_MINUTE = 0

    with pytest.raises(RateLimited) as caught:
        client_of.ads_pixels(account_id=SHARED.account_id)

    assert caught.value.retry_after == 60.0  # X-Business-Use-Case-Usage, in minutes


def test_the_waba_dataset_needs_the_whatsapp_permission(owner_client, sandbox, client_of):
    with pytest.raises(PermissionDenied):
        client_of.waba_dataset(waba_id="104523789012345")

    granted = connect_profile(owner_client, 1, packs=("meta_ads", "meta_whatsapp_conversions"))
    dataset = profile_client(granted).waba_dataset(waba_id="104523789012345")

    assert dataset == meta_data.waba_dataset_id("104523789012345")
    assert profile_client(granted).waba_dataset(waba_id="104523789012345") == dataset


# --- sandbox_fire_whatsapp -------------------------------------------------------------------


@pytest.fixture
def hub_inbox(settings):
    """Route the command's POST to the hub's webhook view in process."""
    drain_kicker.reset()

    def forward(request):
        answer = Client().post(
            "/webhooks/meta/",
            data=request.body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=request.headers.get("X-Hub-Signature-256", ""),
        )
        return answer.status_code, {}, answer.content

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, f"{settings.PUBLIC_BASE_URL}/webhooks/meta/", forward)
        yield mock


@pytest.fixture
def number(tenant_a) -> WhatsAppNumber:
    return WhatsAppNumber.objects.create(
        tenant=tenant_a, phone_number_id="109876543210987", waba_id="104523789012345"
    )


def test_fire_posts_a_signed_click_to_whatsapp_message(hub_inbox, number, leads_spy):
    out = StringIO()

    call_command("sandbox_fire_whatsapp", "--ctwa-clid", "ARAfixed", stdout=out)

    assert "HTTP 200" in out.getvalue()
    event = WebhookEvent.objects.get()
    assert (event.event_type, event.account_ref) == ("whatsapp.message", "109876543210987")
    drain(batch_size=10)
    message = leads_spy.messages[0]["message"]
    assert message.referral.ad_id == meta_data.default_ad().ad_id
    assert message.referral.ctwa_clid == "ARAfixed"
    assert message.wa_id == "5511987654321"
    assert leads_spy.messages[0]["tenant"] == number.tenant


def test_fire_without_clid_without_referral_and_a_status(hub_inbox, number, leads_spy):
    call_command("sandbox_fire_whatsapp", "--no-clid", stdout=StringIO())
    call_command("sandbox_fire_whatsapp", "--no-referral", "--text", "Oi", stdout=StringIO())
    call_command(
        "sandbox_fire_whatsapp", "--status", "read", "--message-id", "wamid.OUT1", stdout=StringIO()
    )
    drain(batch_size=10)

    no_clid, plain = (c["message"] for c in leads_spy.messages)
    assert no_clid.referral.ad_id and no_clid.referral.ctwa_clid == ""
    assert plain.referral is None and plain.text == "Oi"
    assert [(s["provider_message_id"], s["status"]) for s in leads_spy.statuses] == [
        ("wamid.OUT1", "read")
    ]


def test_fire_with_a_bad_signature_is_refused(hub_inbox, number):
    out = StringIO()

    call_command("sandbox_fire_whatsapp", "--bad-signature", stdout=out)

    assert "HTTP 401" in out.getvalue()
    assert not WebhookEvent.objects.exists()


def test_fire_needs_a_number_when_none_or_several_are_registered(tenant_a):
    with pytest.raises(CommandError, match="none registered"):
        call_command("sandbox_fire_whatsapp", stdout=StringIO())
    WhatsAppNumber.objects.create(tenant=tenant_a, phone_number_id="1", waba_id="1")
    WhatsAppNumber.objects.create(tenant=tenant_a, phone_number_id="2", waba_id="2")
    with pytest.raises(CommandError, match="several registered"):
        call_command("sandbox_fire_whatsapp", stdout=StringIO())
