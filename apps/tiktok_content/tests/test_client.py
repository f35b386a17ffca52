"""TikTokContentClient: what goes on the wire, and one test per row of the error table."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from apps.integrations.http import (
    PermissionDenied,
    ProviderError,
    RateLimited,
    TokenExpired,
)
from apps.integrations.testing import load_fixture
from apps.tiktok_content.client import ERRORS, STATUS_ERRORS, TikTokContentClient

pytestmark = pytest.mark.django_db

APP = "tiktok_content"
API = "https://open.tiktokapis.com"
TOKEN_URL = f"{API}/v2/oauth/token/"
REVOKE_URL = f"{API}/v2/oauth/revoke/"
USER_INFO_URL = f"{API}/v2/user/info/"


@pytest.fixture(autouse=True)
def real_hosts(settings):
    settings.TIKTOK_CONTENT_API_BASE = API
    settings.TIKTOK_CONTENT_CLIENT_KEY = "testclientkey"
    settings.TIKTOK_CONTENT_CLIENT_SECRET = "test-client-secret"


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def form_of(call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else body
    return {k: v[0] for k, v in parse_qs(text).items()}


# --- OAuth calls ---------------------------------------------------------------------


def test_token_from_code_posts_the_documented_form_without_a_bearer(mocked):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__success"))

    answer = TikTokContentClient().token_from_code(
        code="code-from-callback", redirect_uri="https://hub.example/integrations/tiktok/callback/"
    )

    assert answer["open_id"] == "-000Ab1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV"
    call = mocked.calls[0]
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in call.request.headers
    assert form_of(call) == {
        "client_key": "testclientkey",
        "client_secret": "test-client-secret",
        "code": "code-from-callback",
        "grant_type": "authorization_code",
        "redirect_uri": "https://hub.example/integrations/tiktok/callback/",
    }


def test_token_from_code_sends_the_verifier_when_pkce_is_used(mocked):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__success"))

    TikTokContentClient().token_from_code(
        code="c", redirect_uri="https://hub.example/cb/", code_verifier="verifier-123"
    )

    assert form_of(mocked.calls[0])["code_verifier"] == "verifier-123"


def test_token_refresh_posts_the_refresh_grant(mocked):
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__refresh_rotated"))

    answer = TikTokContentClient().token_refresh(refresh_token="rft.old")

    assert answer["refresh_token"] == "rft.example9876543210rotatedrefreshtokenExample"
    assert form_of(mocked.calls[0]) == {
        "client_key": "testclientkey",
        "client_secret": "test-client-secret",
        "grant_type": "refresh_token",
        "refresh_token": "rft.old",
    }


def test_token_call_is_never_repeated_because_codes_and_refresh_tokens_are_single_use(mocked):
    mocked.post(TOKEN_URL, status=502, body="Bad Gateway")
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__refresh_rotated"))

    with pytest.raises(ProviderError):
        TikTokContentClient().token_refresh(refresh_token="rft.old")

    assert len(mocked.calls) == 1
    mocked.reset()  # the second answer is deliberately never asked for


def test_invalid_grant_on_the_token_endpoint_is_token_expired(mocked):
    mocked.post(TOKEN_URL, status=400, json=load_fixture(APP, "oauth_token__invalid_grant"))

    with pytest.raises(TokenExpired) as caught:
        TikTokContentClient().token_refresh(refresh_token="rft.spent")

    assert caught.value.code == "invalid_grant"
    assert caught.value.request_id == "202611231015409C8D0B7E2F4A1B3C5D6E"


def test_revoke_posts_the_token_with_the_app_credentials(mocked):
    mocked.post(REVOKE_URL, body="")

    TikTokContentClient().revoke(token="act.to-revoke")

    assert form_of(mocked.calls[0]) == {
        "client_key": "testclientkey",
        "client_secret": "test-client-secret",
        "token": "act.to-revoke",
    }


# --- Display API -----------------------------------------------------------------------


def test_user_info_sends_the_bearer_and_the_fields(mocked):
    mocked.get(
        USER_INFO_URL,
        json=load_fixture(APP, "user_info__success"),
        match=[matchers.header_matcher({"Authorization": "Bearer act.current"})],
    )

    user = TikTokContentClient(access_token="act.current").user_info(
        fields=["open_id", "display_name", "username"]
    )

    assert user["username"] == "ana.creates"
    query = parse_qs(urlsplit(mocked.calls[0].request.url).query)
    assert query["fields"] == ["open_id,display_name,username"]


def test_an_invalid_access_token_is_refreshed_once_and_the_call_retried_with_the_new_one(mocked):
    mocked.get(
        USER_INFO_URL,
        status=401,
        json=load_fixture(APP, "user_info__access_token_invalid"),
        match=[matchers.header_matcher({"Authorization": "Bearer act.stale"})],
    )
    mocked.get(
        USER_INFO_URL,
        json=load_fixture(APP, "user_info__success"),
        match=[matchers.header_matcher({"Authorization": "Bearer act.fresh"})],
    )
    refreshes = []

    def refresher() -> str:
        refreshes.append(1)
        return "act.fresh"

    client = TikTokContentClient(access_token="act.stale", token_refresher=refresher)
    user = client.user_info(fields=["open_id"])

    assert user["display_name"] == "Ana Creates"
    assert len(refreshes) == 1
    assert len(mocked.calls) == 2


def test_a_throttled_read_waits_as_told_and_is_retried(mocked):
    mocked.get(
        USER_INFO_URL,
        status=429,
        json=load_fixture(APP, "user_info__rate_limit_exceeded"),
        headers={"Retry-After": "3"},
    )
    mocked.get(USER_INFO_URL, json=load_fixture(APP, "user_info__success"))
    client = TikTokContentClient(access_token="act.current")
    delays: list[float] = []
    client._sleep = delays.append

    assert client.user_info(fields=["open_id"])["open_id"]
    assert delays == [3.0]


# --- the error table: one row, one test ----------------------------------------------

ERROR_ROWS = [
    # (fixture, HTTP status, expected class, code)
    ("user_info__access_token_invalid", 401, TokenExpired, "access_token_invalid"),
    ("user_info__scope_not_authorized", 401, PermissionDenied, "scope_not_authorized"),
    ("user_info__scope_permission_missed", 400, PermissionDenied, "scope_permission_missed"),
    ("user_info__rate_limit_exceeded", 429, RateLimited, "rate_limit_exceeded"),
    ("oauth_token__invalid_grant", 400, TokenExpired, "invalid_grant"),
]


@pytest.mark.parametrize(("fixture", "status", "expected", "code"), ERROR_ROWS)
def test_error_table_row(fixture, status, expected, code):
    body = load_fixture(APP, fixture)

    error = TikTokContentClient().classify(status_code=status, body=body, headers={})

    assert type(error) is expected
    assert error.code == code
    assert error.status_code == status
    log_id = body["error"]["log_id"] if isinstance(body["error"], dict) else body["log_id"]
    assert error.request_id == log_id


def test_every_row_of_the_error_table_has_a_test():
    assert {row[3] for row in ERROR_ROWS} == set(ERRORS)


@pytest.mark.parametrize(
    "fixture",
    ["user_info__invalid_params", "user_info__internal_error", "oauth_token__invalid_client"],
)
def test_codes_outside_the_table_are_provider_errors_with_the_log_id(fixture):
    body = load_fixture(APP, fixture)
    status = {"internal_error": 500, "invalid_client": 401}.get(fixture.split("__")[1], 400)

    error = TikTokContentClient().classify(status_code=status, body=body, headers={})

    assert type(error) is ProviderError
    log_id = body["error"]["log_id"] if isinstance(body["error"], dict) else body["log_id"]
    assert error.request_id == log_id
    assert error.code


def test_ok_envelope_and_plain_token_answers_are_success():
    client = TikTokContentClient()

    assert (
        client.classify(status_code=200, body=load_fixture(APP, "user_info__success"), headers={})
        is None
    )
    assert (
        client.classify(status_code=200, body=load_fixture(APP, "oauth_token__success"), headers={})
        is None
    )
    assert client.classify(status_code=200, body="", headers={}) is None


def test_a_429_without_a_body_is_rate_limited_and_keeps_retry_after():
    error = TikTokContentClient().classify(status_code=429, body="", headers={"Retry-After": "12"})

    assert type(error) is RateLimited
    assert error.retry_after == 12.0
    assert set(STATUS_ERRORS) == {401, 403, 429}


def test_request_id_and_provider_code_come_from_the_envelope():
    client = TikTokContentClient()
    body = load_fixture(APP, "user_info__scope_not_authorized")

    assert client.request_id_of(body=body, headers={}) == "20261123101545D1E2F3A4B5C6D7E8F9A0"
    assert client.provider_code_of(body=body) == "scope_not_authorized"
    assert client.provider_code_of(body=load_fixture(APP, "user_info__success")) == "ok"
