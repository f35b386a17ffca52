"""TikTokShopAdapter: authorization link, callback, absolute expiries, refresh, test, shops."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from apps.integrations.adapters import AuthorizationDenied
from apps.integrations.http import ProviderError, TokenExpired
from apps.integrations.models import ConnectionStatus
from apps.integrations.registry import providers
from apps.integrations.services import connection_refresh
from apps.integrations.testing import load_fixture as shared_load_fixture
from apps.tiktok_shop.models import TikTokShopConnection
from apps.tiktok_shop.services import TikTokShopAdapter, token_grant_from
from apps.tiktok_shop.signing import sign

pytestmark = pytest.mark.django_db

API = "https://open-api.tiktokglobalshop.com"
AUTH = "https://auth.tiktok-shops.com"
AUTHORIZE = "https://services.tiktokshop.com/open/authorize"
APP_KEY = "6abcd1234efgh"
APP_SECRET = "test-shop-app-secret-0123456789"
SERVICE_ID = "7000000000000000042"
REDIRECT_URI = "https://hub.example/integrations/tiktok/callback/"
OLD_ACCESS = "ROW_old_access_token_stored_000000000000000000"
OLD_REFRESH = "ROW_old_refresh_token_stored_00000000000000000"
NEW_ACCESS = "ROW_scrubbed_access_token_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
NEW_REFRESH = "ROW_scrubbed_refresh_token_DDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
SHOPS_URL = f"{API}/authorization/202309/shops"
TOKEN_GET_URL = f"{AUTH}/api/v2/token/get"
TOKEN_REFRESH_URL = f"{AUTH}/api/v2/token/refresh"


def load_fixture(name: str) -> dict:
    return shared_load_fixture("tiktok_shop", name)


@pytest.fixture(autouse=True)
def shop_settings(settings):
    settings.TIKTOK_SHOP_API_BASE = API
    settings.TIKTOK_SHOP_AUTH_BASE = AUTH
    settings.TIKTOK_SHOP_AUTHORIZE_URL = AUTHORIZE
    settings.TIKTOK_SHOP_APP_KEY = APP_KEY
    settings.TIKTOK_SHOP_APP_SECRET = APP_SECRET
    settings.TIKTOK_SHOP_SERVICE_ID = SERVICE_ID


@pytest.fixture
def adapter() -> TikTokShopAdapter:
    return TikTokShopAdapter()


@pytest.fixture
def connection(tenant_a) -> TikTokShopConnection:
    created = TikTokShopConnection.objects.create(
        tenant=tenant_a,
        access_token=OLD_ACCESS,
        refresh_token=OLD_REFRESH,
        access_expires_at=datetime(2026, 6, 25, 17, 32, 26, tzinfo=UTC),
        refresh_expires_at=datetime(2125, 5, 25, 14, 47, 56, tzinfo=UTC),
        external_user_id="7010736057180325637",
    )
    # As loaded by the app: tokens are Secret objects.
    return TikTokShopConnection.objects.get(pk=created.pk)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def exchange(adapter: TikTokShopAdapter, **params: str):
    return adapter.exchange_code(params=params, redirect_uri=REDIRECT_URI, code_verifier=None)


# --- registry --------------------------------------------------------------------------------------


def test_the_registered_provider_uses_this_adapter():
    adapter = providers.get("tiktok_shop").adapter

    assert isinstance(adapter, TikTokShopAdapter)
    assert adapter.refreshable is True
    assert adapter.uses_pkce is False


# --- authorization link ----------------------------------------------------------------------------


def test_authorization_url_carries_service_id_and_state_only(adapter):
    url = adapter.authorization_url(
        state="  s7ate-abc ",
        scopes=["seller.order.info"],
        redirect_uri=REDIRECT_URI,
        code_challenge=None,
        rerequest=False,
    )

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTHORIZE
    assert query_of(url) == {"service_id": SERVICE_ID, "state": "s7ate-abc"}


def test_a_pasted_partner_center_link_keeps_its_service_id(adapter, settings):
    settings.TIKTOK_SHOP_AUTHORIZE_URL = (
        "https://services.us.tiktokshop.com/open/authorize?service_id=7111111111111111111"
    )

    url = adapter.authorization_url(
        state="abc", scopes=[], redirect_uri=REDIRECT_URI, code_challenge=None, rerequest=True
    )

    assert url.startswith("https://services.us.tiktokshop.com/open/authorize?")
    assert query_of(url) == {"service_id": "7111111111111111111", "state": "abc"}


# --- callback --------------------------------------------------------------------------------------


def test_exchange_code_parses_the_grant_with_absolute_expiries(adapter, mocked):
    mocked.get(TOKEN_GET_URL, json=load_fixture("token_get__success"))

    grant = exchange(adapter, code="TTP_scrubbed_auth_code_0000", state="s")

    assert grant.access_token == "ROW_scrubbed_access_token_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    assert grant.refresh_token == "ROW_scrubbed_refresh_token_BBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
    # 1782408746 and 4903858076 are instants, not durations.
    assert grant.access_expires_at == datetime(2026, 6, 25, 17, 32, 26, tzinfo=UTC)
    assert grant.refresh_expires_at == datetime(2125, 5, 25, 14, 47, 56, tzinfo=UTC)
    assert grant.access_expires_at.utcoffset().total_seconds() == 0
    assert grant.granted_scopes == [
        "seller.authorization.info",
        "seller.shop.info",
        "seller.order.info",
        "seller.product.basic",
        "seller.product.write",
        "seller.fulfillment.basic",
        "seller.logistics",
    ]
    assert grant.external_user_id == "7010736057180325637"
    assert grant.display_name == "Acme Official Store"
    assert grant.assets == {"seller_base_region": "US", "user_type": 0}
    assert query_of(mocked.calls[0].request.url)["auth_code"] == "TTP_scrubbed_auth_code_0000"
    assert query_of(mocked.calls[0].request.url)["grant_type"] == "authorized_code"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"code": "null", "error": "auth_denied", "state": "s"}, "auth_denied"),
        ({"code": "null", "state": "s"}, "no authorization code"),
        ({"state": "s"}, "no authorization code"),
        ({"code": "", "state": "s"}, "no authorization code"),
        ({"code": "abc", "error": "access_denied", "state": "s"}, "access_denied"),
    ],
    ids=["denied", "null_code", "no_code", "empty_code", "error_with_code"],
)
def test_a_refused_authorization_is_denied_without_calling_tiktok(adapter, mocked, params, reason):
    with pytest.raises(AuthorizationDenied, match=reason):
        exchange(adapter, **params)

    assert len(mocked.calls) == 0


def test_a_bad_code_is_a_provider_error(adapter, mocked):
    mocked.get(TOKEN_GET_URL, json=load_fixture("token_get__invalid_code"))

    with pytest.raises(ProviderError) as caught:
        exchange(adapter, code="used-code", state="s")

    assert caught.value.code == "36004004"
    assert len(mocked.calls) == 1


def test_token_grant_from_leaves_missing_expiries_empty():
    grant = token_grant_from({"access_token": "ROW_x", "access_token_expire_in": 0})

    assert grant.access_expires_at is None
    assert grant.refresh_expires_at is None
    assert grant.refresh_token is None
    assert grant.assets is None


# --- refresh ---------------------------------------------------------------------------------------


def test_refresh_spends_the_stored_refresh_token_and_keeps_both_new_tokens(
    adapter, mocked, connection
):
    mocked.get(TOKEN_REFRESH_URL, json=load_fixture("token_refresh__success"))

    grant = adapter.refresh(connection=connection)

    assert grant.access_token == NEW_ACCESS
    assert grant.refresh_token == NEW_REFRESH
    assert grant.access_expires_at == datetime(2026, 7, 2, 17, 32, 26, tzinfo=UTC)
    assert grant.refresh_expires_at == datetime(2125, 5, 25, 14, 47, 56, tzinfo=UTC)
    query = query_of(mocked.calls[0].request.url)
    assert query["refresh_token"] == OLD_REFRESH
    assert query["grant_type"] == "refresh_token"


def test_a_refused_refresh_raises_token_expired(adapter, mocked, connection):
    mocked.get(TOKEN_REFRESH_URL, json=load_fixture("token_refresh__invalid_refresh_token"))

    with pytest.raises(TokenExpired):
        adapter.refresh(connection=connection)


def test_the_core_saves_both_refreshed_tokens(mocked, connection):
    mocked.get(TOKEN_REFRESH_URL, json=load_fixture("token_refresh__success"))
    stale = connection.access_token.reveal()

    connection_refresh(connection=connection, stale_token=stale)

    connection.refresh_from_db()
    assert connection.access_token.reveal() == NEW_ACCESS
    assert connection.refresh_token.reveal() == NEW_REFRESH
    assert connection.access_expires_at == datetime(2026, 7, 2, 17, 32, 26, tzinfo=UTC)
    assert connection.status == ConnectionStatus.CONNECTED


def test_the_core_marks_the_connection_expired_when_the_refresh_is_refused(mocked, connection):
    mocked.get(TOKEN_REFRESH_URL, json=load_fixture("token_refresh__invalid_refresh_token"))

    connection_refresh(connection=connection, stale_token=connection.access_token.reveal())

    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.EXPIRED
    assert connection.refresh_token.reveal() == OLD_REFRESH


# --- revoke, test, discover ------------------------------------------------------------------------


def test_revoke_makes_no_call(adapter, mocked, connection):
    assert adapter.revoke(connection=connection) is None
    assert len(mocked.calls) == 0


def test_test_counts_the_authorized_shops_with_a_signed_call(adapter, mocked, connection):
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))

    summary = adapter.test(connection=connection)

    assert summary == "2 shops authorized"
    request = mocked.calls[0].request
    assert request.headers["x-tts-access-token"] == OLD_ACCESS
    assert OLD_ACCESS not in request.url
    query = query_of(request.url)
    unsigned = {key: value for key, value in query.items() if key != "sign"}
    assert query["sign"] == sign(
        path="/authorization/202309/shops", params=unsigned, body=None, app_secret=APP_SECRET
    )


def test_test_refreshes_an_expired_token_through_the_core_and_retries(adapter, mocked, connection):
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__expired_token"))
    mocked.get(TOKEN_REFRESH_URL, json=load_fixture("token_refresh__success"))
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))

    summary = adapter.test(connection=connection)

    assert summary == "2 shops authorized"
    shop_calls = [call.request for call in mocked.calls if call.request.url.startswith(SHOPS_URL)]
    assert [r.headers["x-tts-access-token"] for r in shop_calls] == [OLD_ACCESS, NEW_ACCESS]
    connection.refresh_from_db()
    assert connection.access_token.reveal() == NEW_ACCESS
    assert connection.refresh_token.reveal() == NEW_REFRESH


def test_discover_assets_lists_each_shop_with_its_cipher(adapter, mocked, connection):
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))

    assets = adapter.discover_assets(connection=connection)

    assert assets == {
        "shops": [
            {
                "id": "7000714532876273420",
                "name": "Acme Official Store US",
                "region": "US",
                "seller_type": "LOCAL",
                "cipher": "ROW_scrubbedCipherUS0000000000000",
                "code": "USLCAC1234",
            },
            {
                "id": "7000714532876273421",
                "name": "Acme Official Store UK",
                "region": "GB",
                "seller_type": "CROSS_BORDER",
                "cipher": "GCP_scrubbedCipherGB0000000000000",
                "code": "GBLCAC5678",
            },
        ]
    }


def test_discover_assets_works_right_after_the_core_saved_a_grant(adapter, mocked, connection):
    """The core calls this on the instance it just saved, with the new token assigned in code."""
    connection.access_token = NEW_ACCESS
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))

    assets = adapter.discover_assets(connection=connection)

    assert len(assets["shops"]) == 2
    assert mocked.calls[0].request.headers["x-tts-access-token"] == NEW_ACCESS
