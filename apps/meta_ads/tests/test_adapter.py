"""MetaAdapter: the login dialog URL, code -> long-lived exchange, declined permissions, test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.utils import timezone

from apps.integrations.adapters import AuthorizationDenied, RefreshNotSupported
from apps.integrations.http import ProviderError, TokenExpired
from apps.integrations.registry import providers
from apps.integrations.testing import load_fixture
from apps.meta_ads.client import appsecret_proof
from apps.meta_ads.models import MetaProfile
from apps.meta_ads.services import MetaAdapter

pytestmark = pytest.mark.django_db

APP = "meta_ads"
GRAPH = "https://graph.facebook.com/v25.0"
TOKEN_URL = f"{GRAPH}/oauth/access_token"
DIALOG = "https://www.facebook.com/v25.0/dialog/oauth"
APP_ID = "100000000000001"
APP_SECRET = "test_app_secret"
REDIRECT_URI = "https://hub.example/integrations/meta/callback/"
SHORT = "EAAexampleShortLivedUserToken0000000000000000000000000000ZZZ"
LONG = "EAAexampleLongLivedUserToken11111111111111111111111111111ZZZ"
TOLERANCE = timedelta(seconds=30)


@pytest.fixture(autouse=True)
def real_hosts(settings):
    settings.META_GRAPH_BASE = "https://graph.facebook.com"
    settings.META_GRAPH_VERSION = "v25.0"
    settings.META_DIALOG_URL = DIALOG
    settings.META_APP_ID = APP_ID
    settings.META_APP_SECRET = APP_SECRET
    settings.META_LOGIN_CONFIG_ID = ""


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def adapter() -> MetaAdapter:
    return MetaAdapter()


@pytest.fixture
def profile(tenant_a) -> MetaProfile:
    created = MetaProfile.objects.create(
        tenant=tenant_a,
        access_token=LONG,
        access_expires_at=timezone.now() + timedelta(days=59),
        granted_scopes=["public_profile", "ads_read"],
        external_user_id="10160000000000001",
        display_name="Ana Souza",
    )
    return MetaProfile.objects.get(pk=created.pk)  # tokens as Secrets, as callers see them


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def call_summary(call) -> tuple[str, str, str | None]:
    """(method, path, grant_type or the token the call was made with)."""
    query = query_of(call.request.url)
    return (
        call.request.method,
        urlsplit(call.request.url).path,
        query.get("grant_type") or query.get("access_token"),
    )


def test_the_registry_resolves_this_adapter():
    assert isinstance(providers.get("meta_ads").adapter, MetaAdapter)


# --- login dialog URL ------------------------------------------------------------------


def test_authorization_url_with_scopes(adapter):
    url = adapter.authorization_url(
        state="state-123",
        scopes=["public_profile", "ads_read", "business_management"],
        redirect_uri=REDIRECT_URI,
        code_challenge=None,
        rerequest=False,
    )

    assert url.startswith(f"{DIALOG}?")
    assert "scope=public_profile,ads_read,business_management" in url
    assert query_of(url) == {
        "client_id": APP_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "state-123",
        "response_type": "code",
        "scope": "public_profile,ads_read,business_management",
        "return_scopes": "true",
    }


def test_authorization_url_with_a_login_for_business_configuration(adapter, settings):
    settings.META_LOGIN_CONFIG_ID = "1234567890123456"

    query = query_of(
        adapter.authorization_url(
            state="s",
            scopes=["public_profile", "ads_read"],
            redirect_uri=REDIRECT_URI,
            code_challenge=None,
            rerequest=False,
        )
    )

    assert query["config_id"] == "1234567890123456"
    assert "scope" not in query
    assert query["response_type"] == "code"


def test_rerequest_asks_again_for_declined_permissions(adapter):
    query = query_of(
        adapter.authorization_url(
            state="s",
            scopes=["ads_management"],
            redirect_uri=REDIRECT_URI,
            code_challenge=None,
            rerequest=True,
        )
    )

    assert query["auth_type"] == "rerequest"


def test_meta_tokens_are_not_refreshable(adapter, profile):
    assert adapter.refreshable is False
    assert adapter.uses_pkce is False
    with pytest.raises(RefreshNotSupported):
        adapter.refresh(connection=profile)


# --- code exchange ---------------------------------------------------------------------


def test_code_is_exchanged_for_a_long_lived_token_then_the_profile_is_read(adapter, mocked):
    mocked.get(TOKEN_URL, json=load_fixture(APP, "oauth_access_token__short_lived"))
    mocked.get(TOKEN_URL, json=load_fixture(APP, "oauth_access_token__long_lived"))
    mocked.get(f"{GRAPH}/me", json=load_fixture(APP, "me__success"))
    mocked.get(f"{GRAPH}/me/permissions", json=load_fixture(APP, "me_permissions__one_declined"))
    before = timezone.now()

    grant = adapter.exchange_code(
        params={"code": "the-code", "state": "s"}, redirect_uri=REDIRECT_URI, code_verifier=None
    )

    assert [call_summary(call) for call in mocked.calls] == [
        ("GET", "/v25.0/oauth/access_token", None),
        ("GET", "/v25.0/oauth/access_token", "fb_exchange_token"),
        ("GET", "/v25.0/me", LONG),
        ("GET", "/v25.0/me/permissions", LONG),
    ]
    assert query_of(mocked.calls[0].request.url)["code"] == "the-code"
    assert query_of(mocked.calls[1].request.url)["fb_exchange_token"] == SHORT
    assert query_of(mocked.calls[2].request.url)["appsecret_proof"] == appsecret_proof(
        app_secret=APP_SECRET, access_token=LONG
    )
    assert grant.access_token == LONG
    assert grant.refresh_token is None
    assert abs(grant.access_expires_at - (before + timedelta(seconds=5183944))) < TOLERANCE
    assert grant.external_user_id == "10160000000000001"
    assert grant.display_name == "Ana Souza"


def test_declined_permissions_are_recorded(adapter, mocked):
    mocked.get(TOKEN_URL, json=load_fixture(APP, "oauth_access_token__short_lived"))
    mocked.get(TOKEN_URL, json=load_fixture(APP, "oauth_access_token__long_lived"))
    mocked.get(f"{GRAPH}/me", json=load_fixture(APP, "me__success"))
    mocked.get(f"{GRAPH}/me/permissions", json=load_fixture(APP, "me_permissions__one_declined"))

    grant = adapter.exchange_code(
        params={"code": "c"}, redirect_uri=REDIRECT_URI, code_verifier=None
    )

    assert grant.granted_scopes == ["public_profile", "ads_read", "business_management"]
    assert grant.assets == {"declined": ["ads_management"]}


def test_a_token_that_does_not_expire_skips_the_long_lived_exchange(adapter, mocked):
    mocked.get(TOKEN_URL, json=load_fixture(APP, "oauth_access_token__system_user"))
    mocked.get(f"{GRAPH}/me", json=load_fixture(APP, "me__success"))
    mocked.get(f"{GRAPH}/me/permissions", json=load_fixture(APP, "me_permissions__one_declined"))

    grant = adapter.exchange_code(
        params={"code": "c"}, redirect_uri=REDIRECT_URI, code_verifier=None
    )

    assert len(mocked.calls) == 3
    assert (
        grant.access_token == load_fixture(APP, "oauth_access_token__system_user")["access_token"]
    )
    assert grant.access_expires_at is None


def test_a_long_lived_answer_without_expires_in_is_settled_by_debug_token(adapter, mocked):
    mocked.get(TOKEN_URL, json=load_fixture(APP, "oauth_access_token__short_lived"))
    mocked.get(TOKEN_URL, json=load_fixture(APP, "oauth_access_token__long_lived_no_expiry"))
    mocked.get(f"{GRAPH}/debug_token", json=load_fixture(APP, "debug_token__valid"))
    mocked.get(f"{GRAPH}/me", json=load_fixture(APP, "me__success"))
    mocked.get(f"{GRAPH}/me/permissions", json=load_fixture(APP, "me_permissions__one_declined"))

    grant = adapter.exchange_code(
        params={"code": "c"}, redirect_uri=REDIRECT_URI, code_verifier=None
    )

    expires_at = load_fixture(APP, "debug_token__valid")["data"]["expires_at"]
    assert grant.access_expires_at == datetime.fromtimestamp(expires_at, tz=UTC)


def test_denied_callback_raises_with_the_description_and_calls_nothing(adapter, mocked):
    with pytest.raises(AuthorizationDenied, match=r"Permissions error\."):
        adapter.exchange_code(
            params={
                "error": "access_denied",
                "error_reason": "user_denied",
                "error_description": "Permissions error.",
                "state": "s",
            },
            redirect_uri=REDIRECT_URI,
            code_verifier=None,
        )

    assert len(mocked.calls) == 0


def test_a_used_code_is_a_provider_error_and_nothing_else_is_called(adapter, mocked):
    mocked.get(TOKEN_URL, status=400, json=load_fixture(APP, "oauth_access_token__code_used"))

    with pytest.raises(ProviderError) as caught:
        adapter.exchange_code(params={"code": "c"}, redirect_uri=REDIRECT_URI, code_verifier=None)

    assert caught.value.request_id == "AExampleTraceCodeUsed01"
    assert len(mocked.calls) == 1


# --- revoke and test -------------------------------------------------------------------


def test_revoke_deletes_the_permissions_with_the_profile_token(adapter, mocked, profile):
    mocked.delete(
        f"{GRAPH}/me/permissions", json=load_fixture(APP, "me_permissions__revoke_success")
    )

    adapter.revoke(connection=profile)

    query = query_of(mocked.calls[0].request.url)
    assert query["access_token"] == LONG
    assert query["appsecret_proof"] == appsecret_proof(app_secret=APP_SECRET, access_token=LONG)


def test_test_reports_until_when_the_token_is_valid(adapter, mocked, profile):
    mocked.get(f"{GRAPH}/debug_token", json=load_fixture(APP, "debug_token__valid"))

    summary = adapter.test(connection=profile)

    expires = datetime.fromtimestamp(
        load_fixture(APP, "debug_token__valid")["data"]["expires_at"], tz=UTC
    )
    assert summary == f"token valid until {expires.date().isoformat()}"
    assert query_of(mocked.calls[0].request.url)["input_token"] == LONG


def test_test_reports_a_token_that_does_not_expire(adapter, mocked, profile):
    mocked.get(f"{GRAPH}/debug_token", json=load_fixture(APP, "debug_token__never_expires"))

    assert adapter.test(connection=profile) == "token valid, does not expire"


def test_an_invalid_token_is_token_expired(adapter, mocked, profile):
    mocked.get(f"{GRAPH}/debug_token", json=load_fixture(APP, "debug_token__expired"))

    with pytest.raises(TokenExpired, match="has expired on") as caught:
        adapter.test(connection=profile)

    assert caught.value.code == "190/463"


def test_a_token_of_another_app_is_token_expired(adapter, mocked, profile):
    mocked.get(f"{GRAPH}/debug_token", json=load_fixture(APP, "debug_token__other_app"))

    with pytest.raises(TokenExpired, match="another app"):
        adapter.test(connection=profile)
