"""TikTokContentAdapter: the authorize URL, the hex PKCE quirk, code exchange, rotation, test."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from responses import matchers

from apps.integrations import services as core
from apps.integrations.adapters import AuthorizationDenied, ProviderAdapter
from apps.integrations.http import TokenExpired
from apps.integrations.registry import providers
from apps.integrations.testing import load_fixture
from apps.tiktok_content.models import TikTokContentConnection
from apps.tiktok_content.services import TikTokContentAdapter

pytestmark = pytest.mark.django_db

APP = "tiktok_content"
API = "https://open.tiktokapis.com"
TOKEN_URL = f"{API}/v2/oauth/token/"
REVOKE_URL = f"{API}/v2/oauth/revoke/"
USER_INFO_URL = f"{API}/v2/user/info/"
REDIRECT_URI = "https://hub.example/integrations/tiktok/callback/"
OPEN_ID = "-000Ab1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV"
# Lifetimes are compared with a tolerance instead of freezing the clock.
TOLERANCE = timedelta(seconds=30)


@pytest.fixture(autouse=True)
def real_hosts(settings):
    settings.TIKTOK_CONTENT_API_BASE = API
    settings.TIKTOK_CONTENT_AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize"
    settings.TIKTOK_CONTENT_CLIENT_KEY = "testclientkey"
    settings.TIKTOK_CONTENT_CLIENT_SECRET = "test-client-secret"


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def adapter() -> TikTokContentAdapter:
    return TikTokContentAdapter()


@pytest.fixture
def connection(tenant_a) -> TikTokContentConnection:
    now = timezone.now()
    created = TikTokContentConnection.objects.create(
        tenant=tenant_a,
        access_token="act.old-access-token",
        refresh_token="rft.old-refresh-token",
        access_expires_at=now + timedelta(minutes=5),
        refresh_expires_at=now + timedelta(days=170),
        granted_scopes=["user.info.basic", "user.info.profile", "video.list"],
        external_user_id=OPEN_ID,
        display_name="Ana Creates",
    )
    return TikTokContentConnection.objects.get(
        pk=created.pk
    )  # tokens as Secrets, as callers see them


def form_of(call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else body
    return {k: v[0] for k, v in parse_qs(text).items()}


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_the_registry_resolves_this_adapter():
    assert isinstance(providers.get("tiktok_content").adapter, TikTokContentAdapter)


# --- authorization URL and PKCE --------------------------------------------------------


def test_authorization_url_asks_for_comma_separated_scopes(adapter):
    url = adapter.authorization_url(
        state="state-123",
        scopes=["user.info.basic", "user.info.profile", "video.list"],
        redirect_uri=REDIRECT_URI,
        code_challenge=None,
        rerequest=False,
    )

    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://www.tiktok.com/v2/auth/authorize/"
    )
    assert "scope=user.info.basic,user.info.profile,video.list" in parts.query
    assert query_of(url) == {
        "client_key": "testclientkey",
        "response_type": "code",
        "scope": "user.info.basic,user.info.profile,video.list",
        "redirect_uri": REDIRECT_URI,
        "state": "state-123",
    }


def test_authorization_url_carries_the_pkce_challenge_when_given(adapter):
    url = adapter.authorization_url(
        state="s",
        scopes=["user.info.basic"],
        redirect_uri=REDIRECT_URI,
        code_challenge="af6d886abed9",
        rerequest=True,
    )

    query = query_of(url)
    assert query["code_challenge"] == "af6d886abed9"
    assert query["code_challenge_method"] == "S256"


def test_pkce_is_off_for_the_web_flow(adapter):
    assert adapter.uses_pkce is False
    assert adapter.refreshable is True


def test_pkce_challenge_is_hex_sha256_as_the_contract_computed(adapter):
    verifier = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ0123456789"

    assert adapter.pkce_challenge(verifier) == (
        "af6d886abed9bae744bb76d41a8d3ea10b83a91ebd61db1098fb644d3c8bc208"
    )
    # ... and not RFC 7636's base64url, which the base adapter would send.
    assert ProviderAdapter.pkce_challenge(adapter, verifier) == (
        "r22Iar7ZuudEu3bUGo0-oQuDqR69YdsQmPtkTTyLwgg"
    )


# --- code exchange ---------------------------------------------------------------------


def test_exchange_code_reads_lifetimes_in_seconds_scopes_and_profile(adapter, mocked):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__success"))
    mocked.get(USER_INFO_URL, json=load_fixture(APP, "user_info__success"))
    before = timezone.now()

    grant = adapter.exchange_code(
        params={"code": "the-code", "state": "s", "scopes": "user.info.basic,video.list"},
        redirect_uri=REDIRECT_URI,
        code_verifier=None,
    )

    assert grant.access_token == "act.example1234567890abcdefghijklmnopqrstuvwxyzExample"
    assert grant.refresh_token == "rft.example1234567890abcdefghijklmnopqrstuvwxyzExample"
    assert abs(grant.access_expires_at - (before + timedelta(seconds=7200))) < TOLERANCE
    assert abs(grant.refresh_expires_at - (before + timedelta(seconds=15552000))) < TOLERANCE
    assert grant.granted_scopes == ["user.info.basic", "user.info.profile", "video.list"]
    assert grant.external_user_id == OPEN_ID
    assert grant.display_name == "Ana Creates"
    assert grant.assets == {
        "avatar_url": load_fixture(APP, "user_info__success")["data"]["user"]["avatar_url"],
        "username": "ana.creates",
    }
    assert form_of(mocked.calls[0])["redirect_uri"] == REDIRECT_URI
    assert "code_verifier" not in form_of(mocked.calls[0])
    user_call = mocked.calls[1].request
    assert user_call.headers["Authorization"] == f"Bearer {grant.access_token}"
    assert query_of(user_call.url)["fields"] == "open_id,union_id,avatar_url,display_name,username"


def test_lifetimes_come_from_the_answer_not_from_constants(adapter, mocked):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__basic_scope_only"))
    mocked.get(USER_INFO_URL, json=load_fixture(APP, "user_info__basic_only"))
    before = timezone.now()

    grant = adapter.exchange_code(
        params={"code": "c"}, redirect_uri=REDIRECT_URI, code_verifier=None
    )

    # The older 24 h / 365 d lifetimes, read as given.
    assert abs(grant.access_expires_at - (before + timedelta(hours=24))) < TOLERANCE
    assert abs(grant.refresh_expires_at - (before + timedelta(days=365))) < TOLERANCE


def test_without_the_profile_scope_username_is_not_requested(adapter, mocked):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__basic_scope_only"))
    mocked.get(USER_INFO_URL, json=load_fixture(APP, "user_info__basic_only"))

    grant = adapter.exchange_code(
        params={"code": "c"}, redirect_uri=REDIRECT_URI, code_verifier=None
    )

    assert (
        query_of(mocked.calls[1].request.url)["fields"]
        == "open_id,union_id,avatar_url,display_name"
    )
    assert grant.granted_scopes == ["user.info.basic"]
    assert grant.assets["username"] == ""


def test_exchange_code_passes_the_pkce_verifier(adapter, mocked):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__success"))
    mocked.get(USER_INFO_URL, json=load_fixture(APP, "user_info__success"))

    adapter.exchange_code(params={"code": "c"}, redirect_uri=REDIRECT_URI, code_verifier="v" * 64)

    assert form_of(mocked.calls[0])["code_verifier"] == "v" * 64


def test_a_profile_failure_after_the_exchange_keeps_the_tokens(adapter, mocked):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__success"))
    mocked.get(USER_INFO_URL, status=400, json=load_fixture(APP, "user_info__invalid_params"))

    grant = adapter.exchange_code(
        params={"code": "c"}, redirect_uri=REDIRECT_URI, code_verifier=None
    )

    assert grant.access_token.startswith("act.")
    assert grant.external_user_id == OPEN_ID
    assert grant.assets is None  # keeps whatever the connection had


def test_denied_callback_raises_with_the_description_and_calls_nothing(adapter, mocked):
    with pytest.raises(AuthorizationDenied, match="The user denied the request"):
        adapter.exchange_code(
            params={
                "error": "access_denied",
                "error_description": "The user denied the request",
                "state": "s",
            },
            redirect_uri=REDIRECT_URI,
            code_verifier=None,
        )

    assert len(mocked.calls) == 0


def test_a_spent_code_is_token_expired(adapter, mocked):
    mocked.post(TOKEN_URL, status=400, json=load_fixture(APP, "oauth_token__invalid_grant"))

    with pytest.raises(TokenExpired):
        adapter.exchange_code(params={"code": "old"}, redirect_uri=REDIRECT_URI, code_verifier=None)


# --- refresh (rotation), revoke, test --------------------------------------------------


def test_refresh_returns_the_rotated_refresh_token(adapter, mocked, connection):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__refresh_rotated"))
    before = timezone.now()

    grant = adapter.refresh(connection=connection)

    assert form_of(mocked.calls[0])["refresh_token"] == "rft.old-refresh-token"
    assert grant.access_token == "act.example9876543210rotatedaccesstokenExample"
    assert grant.refresh_token == "rft.example9876543210rotatedrefreshtokenExample"
    assert abs(grant.access_expires_at - (before + timedelta(seconds=7200))) < TOLERANCE
    assert abs(grant.refresh_expires_at - (before + timedelta(seconds=15551990))) < TOLERANCE


def test_the_core_saves_the_rotated_pair(mocked, connection):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__refresh_rotated"))

    core.connection_refresh(connection=connection)

    connection.refresh_from_db()
    assert connection.access_token.reveal() == "act.example9876543210rotatedaccesstokenExample"
    assert connection.refresh_token.reveal() == "rft.example9876543210rotatedrefreshtokenExample"
    assert connection.status == "connected"


def test_a_dead_refresh_token_is_token_expired(adapter, mocked, connection):
    mocked.post(TOKEN_URL, status=400, json=load_fixture(APP, "oauth_token__invalid_grant"))

    with pytest.raises(TokenExpired) as caught:
        adapter.refresh(connection=connection)

    assert caught.value.code == "invalid_grant"


def test_revoke_revokes_the_access_token(adapter, mocked, connection):
    mocked.post(REVOKE_URL, body="")

    adapter.revoke(connection=connection)

    assert form_of(mocked.calls[0])["token"] == "act.old-access-token"


def test_test_connection_summarises_the_username(adapter, mocked, connection):
    mocked.get(
        USER_INFO_URL,
        json=load_fixture(APP, "user_info__success"),
        match=[matchers.header_matcher({"Authorization": "Bearer act.old-access-token"})],
    )

    assert adapter.test(connection=connection) == "@ana.creates"


def test_test_connection_falls_back_to_the_display_name(adapter, mocked, connection):
    connection.granted_scopes = ["user.info.basic"]
    mocked.get(USER_INFO_URL, json=load_fixture(APP, "user_info__basic_only"))

    assert adapter.test(connection=connection) == "Ana Creates"


def test_test_connection_refreshes_an_expired_token_once_and_retries(adapter, mocked, connection):
    mocked.get(
        USER_INFO_URL,
        status=401,
        json=load_fixture(APP, "user_info__access_token_invalid"),
        match=[matchers.header_matcher({"Authorization": "Bearer act.old-access-token"})],
    )
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__refresh_rotated"))
    mocked.get(
        USER_INFO_URL,
        json=load_fixture(APP, "user_info__success"),
        match=[
            matchers.header_matcher(
                {"Authorization": "Bearer act.example9876543210rotatedaccesstokenExample"}
            )
        ],
    )

    assert adapter.test(connection=connection) == "@ana.creates"

    connection.refresh_from_db()
    assert connection.refresh_token.reveal() == "rft.example9876543210rotatedrefreshtokenExample"


def test_the_rotated_pair_is_saved_in_one_write_before_the_retry_uses_it(
    adapter, mocked, connection
):
    """Login Kit kills the old refresh token at once: the new pair must be stored, together,
    before anything spends the new access token, or a crash in between loses the account."""
    rotated_access = "act.example9876543210rotatedaccesstokenExample"
    rotated_refresh = "rft.example9876543210rotatedrefreshtokenExample"
    seen_in_db: list[tuple[str, str]] = []

    def retried_user_info(request):
        row = TikTokContentConnection.objects.get(pk=connection.pk)
        seen_in_db.append((row.access_token.reveal(), row.refresh_token.reveal()))
        return 200, {}, json.dumps(load_fixture(APP, "user_info__success"))

    mocked.get(
        USER_INFO_URL,
        status=401,
        json=load_fixture(APP, "user_info__access_token_invalid"),
        match=[matchers.header_matcher({"Authorization": "Bearer act.old-access-token"})],
    )
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__refresh_rotated"))
    mocked.add_callback(
        responses.GET,
        USER_INFO_URL,
        callback=retried_user_info,
        match=[matchers.header_matcher({"Authorization": f"Bearer {rotated_access}"})],
    )

    with CaptureQueriesContext(db) as queries:
        adapter.test(connection=connection)

    # When the retry went out, the database already held the new pair.
    assert seen_in_db == [(rotated_access, rotated_refresh)]
    table = TikTokContentConnection._meta.db_table
    token_writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(f'UPDATE "{table}"') and '"access_token"' in q["sql"]
    ]
    assert len(token_writes) == 1
    assert '"refresh_token"' in token_writes[0]


@pytest.mark.parametrize("packs", [[], ["content_publish"], ["content_analytics"]])
def test_basic_and_profile_scopes_are_always_requested(packs):
    from apps.integrations import scopes

    requested = scopes.scopes_to_request(
        "tiktok_content", scopes.validate_packs("tiktok_content", packs)
    )

    assert requested[:2] == ["user.info.basic", "user.info.profile"]
    assert len(requested) == len(set(requested))
