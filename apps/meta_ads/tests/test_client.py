"""MetaClient: versioned paths, token and appsecret_proof on every call, the error table."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from apps.integrations.http import (
    PermissionDenied,
    ProviderError,
    RateLimited,
    TokenExpired,
)
from apps.integrations.testing import load_fixture
from apps.meta_ads.client import ERRORS, TRANSIENT_CODES, MetaClient, appsecret_proof

pytestmark = pytest.mark.django_db

APP = "meta_ads"
GRAPH = "https://graph.facebook.com/v25.0"
APP_ID = "100000000000001"
APP_SECRET = "test_app_secret"


@pytest.fixture(autouse=True)
def real_hosts(settings):
    settings.META_GRAPH_BASE = "https://graph.facebook.com"
    settings.META_GRAPH_VERSION = "v25.0"
    settings.META_APP_ID = APP_ID
    settings.META_APP_SECRET = APP_SECRET


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --- appsecret_proof -------------------------------------------------------------------


def test_appsecret_proof_matches_the_contract_vectors():
    expected = hmac.new(b"test_app_secret", b"EAAtesttoken123", hashlib.sha256).hexdigest()

    assert appsecret_proof(app_secret=APP_SECRET, access_token="EAAtesttoken123") == expected
    assert expected == "20ac0cb5282ee2c7a1aab2e40deb7f62163ab1c7be37a71fd311a963f224b984"
    assert appsecret_proof(
        app_secret=APP_SECRET, access_token="EAAtesttoken123", timestamp=1795000000
    ) == ("35b025119297880edb3e4807cab06bc7d7d31b2896e195b3023df93cfbe08182")


def test_every_user_call_carries_the_token_and_its_proof(mocked):
    mocked.get(f"{GRAPH}/me", json=load_fixture(APP, "me__success"))

    me = MetaClient(access_token="EAAtesttoken123").me()

    assert me == {"id": "10160000000000001", "name": "Ana Souza"}
    query = query_of(mocked.calls[0].request.url)
    assert query == {
        "fields": "id,name",
        "access_token": "EAAtesttoken123",
        "appsecret_proof": "20ac0cb5282ee2c7a1aab2e40deb7f62163ab1c7be37a71fd311a963f224b984",
    }


def test_the_timestamped_proof_can_be_switched_on(mocked):
    mocked.get(f"{GRAPH}/me", json=load_fixture(APP, "me__success"))
    client = MetaClient(access_token="EAAtesttoken123")
    client.timestamped_proof = True

    client.me()

    query = query_of(mocked.calls[0].request.url)
    when = int(query["appsecret_time"])
    assert query["appsecret_proof"] == appsecret_proof(
        app_secret=APP_SECRET, access_token="EAAtesttoken123", timestamp=when
    )


def test_the_proof_is_computed_per_attempt_so_a_new_token_gets_its_own(mocked):
    mocked.get(f"{GRAPH}/me", status=400, json=load_fixture(APP, "error__expired_token_190"))
    mocked.get(f"{GRAPH}/me", json=load_fixture(APP, "me__success"))
    client = MetaClient(access_token="EAAold", token_refresher=lambda: "EAAnew")

    client.me()

    first, second = (query_of(call.request.url) for call in mocked.calls)
    assert first["appsecret_proof"] == appsecret_proof(app_secret=APP_SECRET, access_token="EAAold")
    assert second["access_token"] == "EAAnew"
    assert second["appsecret_proof"] == appsecret_proof(
        app_secret=APP_SECRET, access_token="EAAnew"
    )


# --- OAuth calls -----------------------------------------------------------------------


def test_exchange_code_sends_the_four_documented_params_without_a_user_token(mocked):
    mocked.get(
        f"{GRAPH}/oauth/access_token", json=load_fixture(APP, "oauth_access_token__short_lived")
    )

    answer = MetaClient().exchange_code(code="the-code", redirect_uri="https://hub.example/cb/")

    assert answer["expires_in"] == 6599
    assert query_of(mocked.calls[0].request.url) == {
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "redirect_uri": "https://hub.example/cb/",
        "code": "the-code",
    }


def test_exchange_code_is_not_repeated(mocked):
    mocked.get(
        f"{GRAPH}/oauth/access_token", status=500, json=load_fixture(APP, "error__transient_2")
    )
    mocked.get(
        f"{GRAPH}/oauth/access_token", json=load_fixture(APP, "oauth_access_token__short_lived")
    )

    with pytest.raises(ProviderError):
        MetaClient().exchange_code(code="c", redirect_uri="https://hub.example/cb/")

    assert len(mocked.calls) == 1
    mocked.reset()


def test_exchange_long_lived_uses_fb_exchange_token(mocked):
    mocked.get(
        f"{GRAPH}/oauth/access_token", json=load_fixture(APP, "oauth_access_token__long_lived")
    )

    answer = MetaClient().exchange_long_lived(short_lived_token="EAAshort")

    assert answer["expires_in"] == 5183944
    assert query_of(mocked.calls[0].request.url) == {
        "grant_type": "fb_exchange_token",
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "fb_exchange_token": "EAAshort",
    }


def test_debug_token_uses_the_app_token(mocked):
    mocked.get(f"{GRAPH}/debug_token", json=load_fixture(APP, "debug_token__valid"))

    data = MetaClient(access_token="EAAuser").debug_token(input_token="EAAuser")

    assert data["is_valid"] is True
    query = query_of(mocked.calls[0].request.url)
    assert query == {"input_token": "EAAuser", "access_token": f"{APP_ID}|{APP_SECRET}"}


def test_permissions_lists_rows(mocked):
    mocked.get(f"{GRAPH}/me/permissions", json=load_fixture(APP, "me_permissions__one_declined"))

    rows = MetaClient(access_token="EAAuser").permissions()

    assert {"permission": "ads_management", "status": "declined"} in rows
    assert len(rows) == 4


def test_revoke_permissions_deletes_me_permissions(mocked):
    mocked.delete(
        f"{GRAPH}/me/permissions", json=load_fixture(APP, "me_permissions__revoke_success")
    )

    assert MetaClient(access_token="EAAuser").revoke_permissions() is True
    assert query_of(mocked.calls[0].request.url)["access_token"] == "EAAuser"


# --- the error table -------------------------------------------------------------------

ERROR_ROWS = [
    # (fixture, expected class, provider code)
    ("error__expired_token_190", TokenExpired, "190/463"),
    ("error__password_changed_190_460", TokenExpired, "190/460"),
    ("error__app_removed_190_458", TokenExpired, "190/458"),
    ("error__session_invalid_102", TokenExpired, "102"),
    ("error__app_rate_limit_4", RateLimited, "4"),
    ("error__user_rate_limit_17", RateLimited, "17/2446079"),
    ("error__page_rate_limit_32", RateLimited, "32"),
    ("error__account_rate_limit_613", RateLimited, "613/1487742"),
    ("error__buc_rate_limit_80004", RateLimited, "80004/2446079"),
    ("error__permission_10", PermissionDenied, "10"),
    ("error__permission_200", PermissionDenied, "200"),
    ("error__permission_294", PermissionDenied, "294"),
]


@pytest.mark.parametrize(("fixture", "expected", "code"), ERROR_ROWS)
def test_error_table_row(fixture, expected, code):
    body = load_fixture(APP, fixture)

    error = MetaClient().classify(status_code=400, body=body, headers={})

    assert type(error) is expected
    assert error.code == code
    assert error.request_id == body["error"]["fbtrace_id"]
    assert error.status_code == 400


def test_every_code_of_the_error_table_has_a_row():
    tested = {int(row[2].split("/")[0]) for row in ERROR_ROWS}
    named = {code for code in ERRORS if not 80000 <= code <= 80014 and not 200 <= code <= 299}
    assert named <= tested
    assert ERRORS[80000] is RateLimited and ERRORS[80014] is RateLimited
    assert ERRORS[299] is PermissionDenied


@pytest.mark.parametrize("fixture", ["error__unknown_1", "error__transient_2"])
def test_transient_codes_are_provider_errors(fixture):
    body = load_fixture(APP, fixture)

    error = MetaClient().classify(status_code=500, body=body, headers={})

    assert type(error) is ProviderError
    assert int(error.code.split("/")[0]) in TRANSIENT_CODES
    assert error.request_id == body["error"]["fbtrace_id"]


@pytest.mark.parametrize(
    "fixture",
    ["error__invalid_parameter_100", "error__policy_block_368", "oauth_access_token__code_used"],
)
def test_unknown_codes_are_provider_errors_with_the_fbtrace_id(fixture):
    body = load_fixture(APP, fixture)

    error = MetaClient().classify(status_code=400, body=body, headers={})

    assert type(error) is ProviderError
    assert error.request_id == body["error"]["fbtrace_id"]
    assert error.message == body["error"]["message"]


def test_a_transient_code_on_a_safe_call_is_retried_even_inside_http_400(mocked):
    mocked.get(f"{GRAPH}/me", status=400, json=load_fixture(APP, "error__transient_2"))
    mocked.get(f"{GRAPH}/me", json=load_fixture(APP, "me__success"))
    client = MetaClient(access_token="EAAuser")
    delays: list[float] = []
    client._sleep = delays.append

    assert client.me()["id"] == "10160000000000001"
    assert len(mocked.calls) == 2
    assert len(delays) == 1


def test_an_invalid_parameter_is_not_retried(mocked):
    mocked.get(f"{GRAPH}/me", status=400, json=load_fixture(APP, "error__invalid_parameter_100"))
    client = MetaClient(access_token="EAAuser")
    client._sleep = lambda seconds: None

    with pytest.raises(ProviderError) as caught:
        client.me()

    assert caught.value.transient is False
    assert len(mocked.calls) == 1


def test_an_expired_token_is_not_retried_without_a_refresher(mocked):
    mocked.get(f"{GRAPH}/me", status=400, json=load_fixture(APP, "error__expired_token_190"))

    with pytest.raises(TokenExpired):
        MetaClient(access_token="EAAuser").me()

    assert len(mocked.calls) == 1


def test_rate_limits_wait_for_the_business_use_case_estimate():
    headers = {
        "X-Business-Use-Case-Usage": json.dumps(
            {
                "120000000000001": [
                    {
                        "type": "ads_management",
                        "call_count": 100,
                        "total_cputime": 12,
                        "total_time": 15,
                        "estimated_time_to_regain_access": 5,
                    }
                ]
            }
        )
    }

    error = MetaClient().classify(
        status_code=400, body=load_fixture(APP, "error__buc_rate_limit_80004"), headers=headers
    )

    assert type(error) is RateLimited
    assert error.retry_after == 300.0


def test_success_and_bodiless_failures():
    client = MetaClient()

    assert (
        client.classify(status_code=200, body=load_fixture(APP, "me__success"), headers={}) is None
    )
    assert client.classify(status_code=200, body=True, headers={}) is None
    error = client.classify(status_code=503, body="", headers={"x-fb-trace-id": "AHeaderTrace"})
    assert type(error) is ProviderError
    assert error.request_id == "AHeaderTrace"
    assert type(client.classify(status_code=429, body="", headers={})) is RateLimited
