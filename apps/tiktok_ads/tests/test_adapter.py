"""TikTokAdsAdapter: authorization URL, token exchange, test, assets, revoke.

The shared provider contract runs end to end in ``test_contract.py``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from apps.integrations.adapters import AuthorizationDenied, RefreshNotSupported, TokenGrant
from apps.integrations.http import ProviderError, TokenExpired
from apps.integrations.models import ApiCallLog
from apps.integrations.registry import providers
from apps.integrations.testing import load_fixture
from apps.tiktok_ads.models import TikTokAdsConnection
from apps.tiktok_ads.services import TikTokAdsAdapter

pytestmark = pytest.mark.django_db

API = "https://business-api.tiktok.com/open_api/v1.3"
AUTH_URL = "https://business-api.tiktok.com/portal/auth"
APP_ID = "7100000000000000001"
APP_SECRET = "test-app-secret-0123456789abcdef"
TOKEN = "3f9c1e7a0b5d4c2e8f6a1b3c5d7e9f0a2b4c6d8e"
A1, A2 = "7012345678901234567", "7012345678901234568"
REDIRECT_URI = "https://hub.example/integrations/tiktok/callback/"


@pytest.fixture
def real_hosts(settings):
    settings.TIKTOK_ADS_API_BASE = "https://business-api.tiktok.com"
    settings.TIKTOK_ADS_AUTH_URL = AUTH_URL
    settings.TIKTOK_APP_ID = APP_ID
    settings.TIKTOK_APP_SECRET = APP_SECRET


@pytest.fixture
def mocked(real_hosts):
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def connection(tenant_a) -> TikTokAdsConnection:
    return TikTokAdsConnection.objects.create(
        tenant=tenant_a, access_token=TOKEN, external_user_id=A1, assets={"advertiser_ids": [A1]}
    )


def fixture(name: str) -> dict:
    return load_fixture("tiktok_ads", name)


def exchange(params: dict[str, str]) -> TokenGrant:
    return TikTokAdsAdapter().exchange_code(
        params=params, redirect_uri=REDIRECT_URI, code_verifier=None
    )


def test_the_registry_points_at_this_adapter():
    adapter = providers.get("tiktok_ads").adapter
    assert isinstance(adapter, TikTokAdsAdapter)
    assert adapter.refreshable is False
    assert adapter.uses_pkce is False


# --- authorization URL -----------------------------------------------------------------


def test_authorization_url_carries_app_id_state_and_redirect_uri_and_no_scopes(real_hosts):
    url = TikTokAdsAdapter().authorization_url(
        state="state-123",
        scopes=["10", "20"],
        redirect_uri=REDIRECT_URI,
        code_challenge=None,
        rerequest=True,
    )

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTH_URL
    assert parse_qs(parts.query) == {
        "app_id": [APP_ID],
        "state": ["state-123"],
        "redirect_uri": [REDIRECT_URI],
    }


# --- token exchange ---------------------------------------------------------------------


def test_exchange_code_parses_the_token_answer(mocked):
    mocked.post(
        f"{API}/oauth2/access_token/",
        json=fixture("oauth2_access_token__success"),
        match=[
            matchers.json_params_matcher(
                {"app_id": APP_ID, "secret": APP_SECRET, "auth_code": "the-auth-code"}
            )
        ],
    )

    grant = exchange({"auth_code": "the-auth-code", "state": "s"})

    assert grant.access_token == TOKEN
    assert grant.refresh_token is None
    assert grant.access_expires_at is None
    assert grant.refresh_expires_at is None
    assert grant.granted_scopes == [
        "1",
        "2",
        "4",
        "8",
        "10",
        "20",
        "21",
        "22",
        "44",
        "80",
        "7224195155857866754",  # exact: no float rounding of the 19-digit id
    ]
    assert grant.external_user_id == A1
    assert grant.assets == {"advertiser_ids": [A1, A2]}
    assert TOKEN not in repr(grant)


def test_a_token_without_advertisers_has_no_external_user_id(mocked):
    mocked.post(f"{API}/oauth2/access_token/", json=fixture("oauth2_access_token__no_advertisers"))

    grant = exchange({"auth_code": "code"})

    assert grant.external_user_id == ""
    assert grant.assets == {"advertiser_ids": []}
    assert grant.granted_scopes == ["4", "44"]


@pytest.mark.parametrize(
    "params",
    [{"state": "s"}, {"auth_code": "", "state": "s"}, {"error": "access_denied", "state": "s"}],
)
def test_a_callback_without_auth_code_or_with_an_error_is_a_denial(mocked, params):
    with pytest.raises(AuthorizationDenied):
        exchange(params)
    assert len(mocked.calls) == 0


def test_an_invalid_auth_code_is_a_provider_error(mocked):
    body = fixture("oauth2_access_token__invalid_auth_code")
    mocked.post(f"{API}/oauth2/access_token/", json=body)

    with pytest.raises(ProviderError) as caught:
        exchange({"auth_code": "used"})

    assert caught.value.code == "40110"
    assert caught.value.request_id == body["request_id"]


def test_tokens_cannot_be_refreshed(connection):
    with pytest.raises(RefreshNotSupported):
        TikTokAdsAdapter().refresh(connection=connection)


# --- test, assets, revoke ---------------------------------------------------------------------


def test_test_counts_the_reachable_advertisers_with_the_connections_token(mocked, connection):
    mocked.get(
        f"{API}/oauth2/advertiser/get/",
        json=fixture("oauth2_advertiser_get__success"),
        match=[matchers.header_matcher({"Access-Token": TOKEN})],
    )

    assert TikTokAdsAdapter().test(connection=connection) == "2 advertisers reachable"
    assert ApiCallLog.objects.get().tenant_id == connection.tenant_id


def test_test_raises_token_expired_for_a_revoked_token(mocked, connection):
    mocked.get(f"{API}/oauth2/advertiser/get/", json=fixture("campaign_get__access_token_invalid"))

    with pytest.raises(TokenExpired):
        TikTokAdsAdapter().test(connection=connection)
    assert len(mocked.calls) == 1  # nothing to refresh, nothing retried


def test_discover_assets_lists_advertisers_with_their_details(mocked, connection):
    mocked.get(f"{API}/oauth2/advertiser/get/", json=fixture("oauth2_advertiser_get__success"))
    mocked.get(f"{API}/advertiser/info/", json=fixture("advertiser_info__success"))

    assets = TikTokAdsAdapter().discover_assets(connection=connection)

    assert assets == {
        "advertisers": [
            {
                "id": A1,
                "name": "Acme Shoes BR",
                "currency": "BRL",
                "timezone": "America/Sao_Paulo",
                "status": "STATUS_ENABLE",
            },
            {
                "id": A2,
                "name": "Acme Shoes US",
                "currency": "USD",
                "timezone": "America/New_York",
                "status": "STATUS_LIMIT",
            },
        ],
        "advertiser_ids": [A1, A2],
    }


def test_revoke_sends_the_connections_token(mocked, connection):
    mocked.post(
        f"{API}/oauth2/revoke_token/",
        json=fixture("oauth2_revoke_token__success"),
        match=[
            matchers.json_params_matcher(
                {"app_id": APP_ID, "secret": APP_SECRET, "access_token": TOKEN}
            )
        ],
    )

    TikTokAdsAdapter().revoke(connection=connection)

    assert len(mocked.calls) == 1


def test_revoking_a_token_tiktok_already_refuses_is_quiet(mocked, connection):
    mocked.post(f"{API}/oauth2/revoke_token/", json=fixture("oauth2_revoke_token__invalid_token"))

    TikTokAdsAdapter().revoke(connection=connection)

    assert len(mocked.calls) == 1
