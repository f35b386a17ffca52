"""TikTokAdsClient: what goes on the wire, one test per row of the error table, pagination."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from apps.integrations.http import (
    PermissionDenied,
    ProviderError,
    RateLimited,
    TokenExpired,
    TransportError,
)
from apps.integrations.models import ApiCallLog
from apps.integrations.testing import load_fixture
from apps.tiktok_ads.client import (
    ERRORS,
    SERVER_ERROR_CODES,
    SUCCESS_CODES,
    TikTokAdsClient,
)

pytestmark = pytest.mark.django_db

API = "https://business-api.tiktok.com/open_api/v1.3"
APP_ID = "7100000000000000001"
APP_SECRET = "test-app-secret-0123456789abcdef"
TOKEN = "3f9c1e7a0b5d4c2e8f6a1b3c5d7e9f0a2b4c6d8e"
A1, A2 = "7012345678901234567", "7012345678901234568"


@pytest.fixture(autouse=True)
def real_hosts(settings):
    settings.TIKTOK_ADS_API_BASE = "https://business-api.tiktok.com"
    settings.TIKTOK_APP_ID = APP_ID
    settings.TIKTOK_APP_SECRET = APP_SECRET


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def fixture(name: str) -> dict:
    return load_fixture("tiktok_ads", name)


def client_with_token(**kwargs) -> tuple[TikTokAdsClient, list[float]]:
    client = TikTokAdsClient(access_token=TOKEN, **kwargs)
    delays: list[float] = []
    client._sleep = delays.append
    return client, delays


def query_of(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


# --- the error table: one test per row --------------------------------------------------

ERROR_ROWS = [
    ("campaign_get__rate_limited", 40100, RateLimited),
    ("campaign_get__advertiser_rate_limited", 40133, RateLimited),
    ("campaign_get__too_frequent", 40016, RateLimited),
    ("campaign_get__access_token_expired", 40102, TokenExpired),
    ("campaign_get__access_token_invalid", 40105, TokenExpired),
    ("campaign_get__access_token_empty", 40104, TokenExpired),
    ("campaign_get__no_permission", 40001, PermissionDenied),
    ("campaign_get__developer_lacks_permission", 40125, PermissionDenied),
    ("campaign_get__not_allowlisted", 40118, PermissionDenied),
]


def test_every_row_of_the_error_table_has_a_test():
    assert {code for _fixture, code, _class in ERROR_ROWS} == set(ERRORS)


@pytest.mark.parametrize(("fixture_name", "code", "error_class"), ERROR_ROWS)
def test_error_table_row(fixture_name, code, error_class):
    body = fixture(fixture_name)
    assert body["code"] == code

    error = TikTokAdsClient().classify(status_code=200, body=body, headers={})

    assert type(error) is error_class
    assert ERRORS[code] is error_class
    assert error.code == str(code)
    assert error.request_id == body["request_id"]
    assert error.message == body["message"]
    assert error.status_code == 200
    assert error.retry_after is None  # TikTok sends no Retry-After with its throttle codes


def test_server_error_codes_are_transient_provider_errors():
    body = fixture("campaign_get__server_error")
    assert body["code"] in SERVER_ERROR_CODES

    error = TikTokAdsClient().classify(status_code=200, body=body, headers={})

    assert type(error) is ProviderError
    assert error.transient
    assert error.request_id == body["request_id"]


def test_an_unknown_code_is_a_final_provider_error_with_the_request_id():
    body = fixture("campaign_get__parameter_error")
    assert body["code"] not in ERRORS

    error = TikTokAdsClient().classify(status_code=200, body=body, headers={})

    assert type(error) is ProviderError
    assert not error.transient
    assert error.code == "40002"
    assert error.request_id == body["request_id"]
    assert body["request_id"] in str(error)


@pytest.mark.parametrize("fixture_name", ["campaign_get__page1", "campaign_get__partial_success"])
def test_code_0_and_partial_success_20001_are_successes(fixture_name):
    body = fixture(fixture_name)
    assert body["code"] in SUCCESS_CODES
    assert TikTokAdsClient().classify(status_code=200, body=body, headers={}) is None


def test_http_errors_without_an_envelope_fall_back_to_the_status():
    client = TikTokAdsClient()
    gateway = client.classify(status_code=502, body=None, headers={"X-Tt-Logid": "log-1"})
    throttled = client.classify(
        status_code=429, body=fixture("campaign_get__rate_limited"), headers={}
    )

    assert type(gateway) is ProviderError
    assert gateway.transient
    assert gateway.request_id == "log-1"
    assert type(throttled) is RateLimited


# --- retries through the client -------------------------------------------------------------


def test_a_throttled_campaign_page_is_retried_after_a_backoff(mocked):
    mocked.get(f"{API}/campaign/get/", json=fixture("campaign_get__rate_limited"))
    mocked.get(f"{API}/campaign/get/", json=fixture("campaign_get__page1"))
    client, delays = client_with_token()

    rows, page_info = client.campaigns_page(advertiser_id=A1, page=1, page_size=2)

    assert len(rows) == 2
    assert page_info["total_page"] == 2
    assert len(mocked.calls) == 2
    assert len(delays) == 1
    assert 0.0 <= delays[0] <= client.backoff_base
    assert list(ApiCallLog.objects.order_by("attempt").values_list("provider_code", flat=True)) == [
        "40100",
        "0",
    ]


def test_a_revoked_token_raises_token_expired_without_retrying(mocked):
    mocked.get(f"{API}/campaign/get/", json=fixture("campaign_get__access_token_invalid"))
    client, delays = client_with_token()

    with pytest.raises(TokenExpired):
        client.campaigns_page(advertiser_id=A1)

    assert len(mocked.calls) == 1
    assert delays == []


def test_the_client_spends_the_apps_budget_of_10_per_second():
    client = TikTokAdsClient()
    assert client.rate_limit == (10, 1.0)
    assert client.rate_key == APP_ID


# --- OAuth ------------------------------------------------------------------------------------


def test_exchange_auth_code_posts_json_without_a_token_header(mocked):
    mocked.post(
        f"{API}/oauth2/access_token/",
        json=fixture("oauth2_access_token__success"),
        match=[
            matchers.json_params_matcher(
                {"app_id": APP_ID, "secret": APP_SECRET, "auth_code": "auth-code-1"}
            )
        ],
    )

    data = TikTokAdsClient().exchange_auth_code(auth_code="auth-code-1")

    assert data["access_token"] == TOKEN
    assert data["advertiser_ids"] == [A1, A2]
    assert data["scope"][-1] == 7224195155857866754
    sent = mocked.calls[0].request
    assert "Access-Token" not in sent.headers
    assert sent.headers["Content-Type"] == "application/json"


def test_an_invalid_auth_code_is_a_provider_error_and_is_not_sent_twice(mocked):
    body = fixture("oauth2_access_token__invalid_auth_code")
    mocked.post(f"{API}/oauth2/access_token/", json=body)

    with pytest.raises(ProviderError) as caught:
        TikTokAdsClient().exchange_auth_code(auth_code="used-code")

    assert type(caught.value) is ProviderError
    assert caught.value.code == "40110"
    assert caught.value.request_id == body["request_id"]
    assert len(mocked.calls) == 1


def test_an_auth_code_call_that_times_out_is_not_repeated(mocked):
    mocked.post(f"{API}/oauth2/access_token/", body=requests.exceptions.ReadTimeout("slow"))

    with pytest.raises(TransportError):
        TikTokAdsClient().exchange_auth_code(auth_code="code")

    assert len(mocked.calls) == 1


def test_revoke_token_posts_the_token_in_the_body(mocked):
    mocked.post(
        f"{API}/oauth2/revoke_token/",
        json=fixture("oauth2_revoke_token__success"),
        match=[
            matchers.json_params_matcher(
                {"app_id": APP_ID, "secret": APP_SECRET, "access_token": TOKEN}
            )
        ],
    )

    data = TikTokAdsClient().revoke_token(access_token=TOKEN)

    assert data["advertiser_ids"] == [A1, A2]


# --- assets ------------------------------------------------------------------------------------


def test_advertisers_lists_what_the_token_reaches(mocked):
    mocked.get(
        f"{API}/oauth2/advertiser/get/",
        json=fixture("oauth2_advertiser_get__success"),
        match=[
            matchers.query_param_matcher({"app_id": APP_ID, "secret": APP_SECRET}),
            matchers.header_matcher({"Access-Token": TOKEN}),
        ],
    )
    client, _delays = client_with_token()

    assert client.advertisers() == [
        {"advertiser_id": A1, "advertiser_name": "Acme Shoes BR"},
        {"advertiser_id": A2, "advertiser_name": "Acme Shoes US"},
    ]


def test_advertiser_info_sends_ids_and_fields_as_json_arrays(mocked):
    mocked.get(f"{API}/advertiser/info/", json=fixture("advertiser_info__success"))
    client, _delays = client_with_token()

    rows = client.advertiser_info(advertiser_ids=[A1, A2], fields=["name", "currency"])

    assert [row["currency"] for row in rows] == ["BRL", "USD"]
    query = query_of(mocked.calls[0])
    assert json.loads(query["advertiser_ids"]) == [A1, A2]
    assert json.loads(query["fields"]) == ["name", "currency"]


def test_advertiser_info_asks_in_batches_of_100(mocked):
    mocked.get(f"{API}/advertiser/info/", json={"code": 0, "message": "OK", "data": {"list": []}})
    client, _delays = client_with_token()

    client.advertiser_info(advertiser_ids=[str(7000 + n) for n in range(150)])

    sizes = [len(json.loads(query_of(call)["advertiser_ids"])) for call in mocked.calls]
    assert sizes == [100, 50]


# --- campaigns ------------------------------------------------------------------------------------


def test_campaigns_page_parses_rows_and_page_info(mocked):
    mocked.get(f"{API}/campaign/get/", json=fixture("campaign_get__page1"))
    mocked.get(f"{API}/campaign/get/", json=fixture("campaign_get__page2"))
    client, _delays = client_with_token()

    first, first_info = client.campaigns_page(
        advertiser_id=A1,
        page=1,
        page_size=2,
        fields=["campaign_id", "campaign_name"],
        filtering={"secondary_status": "CAMPAIGN_STATUS_ALL"},
    )
    second, second_info = client.campaigns_page(advertiser_id=A1, page=2, page_size=2)

    assert [row["campaign_id"] for row in first + second] == [
        "1801234567800001",
        "1801234567800002",
        "1801234567800003",
    ]
    assert first_info == {"page": 1, "page_size": 2, "total_number": 3, "total_page": 2}
    assert second_info["page"] >= second_info["total_page"]  # the last page
    query = query_of(mocked.calls[0])
    assert query["advertiser_id"] == A1
    assert (query["page"], query["page_size"]) == ("1", "2")
    assert json.loads(query["filtering"]) == {"secondary_status": "CAMPAIGN_STATUS_ALL"}
    assert json.loads(query["fields"]) == ["campaign_id", "campaign_name"]


def test_campaigns_page_refuses_a_page_size_tiktok_would_refuse():
    with pytest.raises(ValueError, match="between 1 and 1000"):
        TikTokAdsClient().campaigns_page(advertiser_id=A1, page_size=1001)


def test_the_token_never_travels_in_a_url_nor_lands_in_the_log(mocked, caplog):
    mocked.get(f"{API}/oauth2/advertiser/get/", json=fixture("oauth2_advertiser_get__success"))
    mocked.get(f"{API}/advertiser/info/", json=fixture("advertiser_info__success"))
    mocked.get(f"{API}/campaign/get/", json=fixture("campaign_get__access_token_expired"))
    client, _delays = client_with_token()

    client.advertisers()
    client.advertiser_info(advertiser_ids=[A1])
    with pytest.raises(TokenExpired):
        client.campaigns_page(advertiser_id=A1)

    for call in mocked.calls:
        assert TOKEN not in call.request.url
        assert call.request.headers["Access-Token"] == TOKEN
    for row in ApiCallLog.objects.values():
        for value in row.values():
            assert TOKEN not in str(value)
            assert APP_SECRET not in str(value)
    assert set(ApiCallLog.objects.values_list("path", flat=True)) == {
        "/open_api/v1.3/oauth2/advertiser/get/",
        "/open_api/v1.3/advertiser/info/",
        "/open_api/v1.3/campaign/get/",
    }
    assert TOKEN not in caplog.text
    assert APP_SECRET not in caplog.text
