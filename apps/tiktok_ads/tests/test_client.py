"""TikTokAdsClient: what goes on the wire, one test per row of the error table, pagination,
reports, and the actions (never repeated, every error class typed)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
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
    REPORT_METRICS,
    SERVER_ERROR_CODES,
    SUCCESS_CODES,
    TikTokAdsClient,
    report_max_days,
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


# --- ad groups and ads ---------------------------------------------------------------------------


def test_adgroups_page_asks_for_every_status_and_parses_page_info(mocked):
    mocked.get(f"{API}/adgroup/get/", json=fixture("adgroup_get__page1"))
    mocked.get(f"{API}/adgroup/get/", json=fixture("adgroup_get__page2"))
    client, _delays = client_with_token()

    first, first_info = client.adgroups_page(
        advertiser_id=A1, page=1, page_size=2, filtering={"secondary_status": "ADGROUP_STATUS_ALL"}
    )
    second, second_info = client.adgroups_page(advertiser_id=A1, page=2, page_size=2)

    assert [row["adgroup_id"] for row in first + second] == [
        "1791234567800001",
        "1791234567800002",
        "1791234567800003",
    ]
    assert second[0]["secondary_status"] == "ADGROUP_STATUS_DELETE"
    assert first_info["total_page"] == second_info["page"] == 2
    query = query_of(mocked.calls[0])
    assert (query["advertiser_id"], query["page"], query["page_size"]) == (A1, "1", "2")
    assert json.loads(query["filtering"]) == {"secondary_status": "ADGROUP_STATUS_ALL"}


def test_ads_page_reads_ad_get(mocked):
    mocked.get(f"{API}/ad/get/", json=fixture("ad_get__page1"))
    client, _delays = client_with_token()

    rows, page_info = client.ads_page(
        advertiser_id=A1, filtering={"secondary_status": "AD_STATUS_ALL"}
    )

    assert [row["ad_id"] for row in rows] == ["1801234567890001", "1801234567890002"]
    assert page_info["total_page"] == 1
    query = query_of(mocked.calls[0])
    assert query["page_size"] == "1000"
    assert json.loads(query["filtering"]) == {"secondary_status": "AD_STATUS_ALL"}


@pytest.mark.parametrize("method", ["adgroups_page", "ads_page"])
def test_object_pages_refuse_page_sizes_tiktok_would_refuse(method):
    with pytest.raises(ValueError, match="between 1 and 1000"):
        getattr(TikTokAdsClient(), method)(advertiser_id=A1, page_size=0)


# --- report -----------------------------------------------------------------------------------


def test_report_page_sends_arrays_as_json_and_dates_as_days(mocked):
    mocked.get(f"{API}/report/integrated/get/", json=fixture("report_integrated_get__daily_page1"))
    client, _delays = client_with_token()

    rows, page_info = client.report_page(
        advertiser_id=A1,
        start_date=date(2026, 11, 20),
        end_date=date(2026, 11, 21),
        page=1,
        page_size=3,
        filtering=[
            {"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}
        ],
    )

    assert len(rows) == 3
    assert rows[0]["metrics"]["spend"] == "20.00"  # untouched: the sync parses
    assert page_info == {"page": 1, "page_size": 3, "total_number": 5, "total_page": 2}
    query = query_of(mocked.calls[0])
    assert query["advertiser_id"] == A1
    assert query["report_type"] == "BASIC"
    assert query["data_level"] == "AUCTION_AD"
    assert json.loads(query["dimensions"]) == ["ad_id", "stat_time_day"]
    assert json.loads(query["metrics"]) == list(REPORT_METRICS)
    assert (query["start_date"], query["end_date"]) == ("2026-11-20", "2026-11-21")
    assert (query["page"], query["page_size"]) == ("1", "3")
    assert json.loads(query["filtering"]) == [
        {"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}
    ]
    assert mocked.calls[0].request.headers["Access-Token"] == TOKEN


def test_report_page_of_30_days_is_allowed_and_31_is_refused_before_any_call(mocked):
    mocked.get(f"{API}/report/integrated/get/", json=fixture("report_integrated_get__no_data"))
    client, _delays = client_with_token()

    rows, page_info = client.report_page(
        advertiser_id=A1, start_date=date(2026, 1, 1), end_date=date(2026, 1, 30)
    )
    assert rows == [] and page_info["total_page"] == 0

    with pytest.raises(ValueError, match="at most 30 day"):
        client.report_page(
            advertiser_id=A1, start_date=date(2026, 1, 1), end_date=date(2026, 1, 31)
        )
    with pytest.raises(ValueError, match="at most 1 day"):
        client.report_page(
            advertiser_id=A1,
            start_date=date(2026, 1, 1),
            end_date=date(2026, 1, 2),
            dimensions=("ad_id", "stat_time_hour"),
        )
    with pytest.raises(ValueError, match="before start_date"):
        client.report_page(advertiser_id=A1, start_date=date(2026, 1, 2), end_date=date(2026, 1, 1))
    assert len(mocked.calls) == 1


def test_report_max_days_follows_the_time_dimension():
    assert report_max_days(("ad_id", "stat_time_day")) == 30
    assert report_max_days(("ad_id", "stat_time_hour")) == 1
    assert report_max_days(("campaign_id",)) == 365


def test_tiktoks_own_span_refusal_is_a_final_provider_error(mocked):
    """Should a long span get through anyway, TikTok's 40002 is final: no retry."""
    body = fixture("report_integrated_get__span_too_long")
    mocked.get(f"{API}/report/integrated/get/", json=body)
    client, delays = client_with_token()

    with pytest.raises(ProviderError) as caught:
        client.report_page(advertiser_id=A1, start_date=date(2026, 1, 1), end_date=date(2026, 1, 5))

    assert type(caught.value) is ProviderError
    assert caught.value.code == "40002"
    assert not caught.value.transient
    assert len(mocked.calls) == 1 and delays == []


def test_a_throttled_report_page_is_retried(mocked):
    mocked.get(f"{API}/report/integrated/get/", json=fixture("report_integrated_get__rate_limited"))
    mocked.get(f"{API}/report/integrated/get/", json=fixture("report_integrated_get__daily_page2"))
    client, delays = client_with_token()

    rows, _info = client.report_page(
        advertiser_id=A1, start_date=date(2026, 11, 20), end_date=date(2026, 11, 21), page=2
    )

    assert len(rows) == 2
    assert len(mocked.calls) == 2 and len(delays) == 1


# --- audiences and pixels ---------------------------------------------------------------------


def test_audiences_page_reads_the_custom_audience_list(mocked):
    mocked.get(f"{API}/dmp/custom_audience/list/", json=fixture("custom_audience_list__page1"))
    client, _delays = client_with_token()

    rows, page_info = client.audiences_page(advertiser_id=A1)

    assert [row["audience_id"] for row in rows] == ["123456789", "123456790"]
    assert page_info["total_page"] == 1
    query = query_of(mocked.calls[0])
    assert (query["advertiser_id"], query["page"], query["page_size"]) == (A1, "1", "100")


def test_audiences_page_takes_at_most_100():
    with pytest.raises(ValueError, match="between 1 and 100"):
        TikTokAdsClient().audiences_page(advertiser_id=A1, page_size=101)


def test_pixels_reads_data_pixels(mocked):
    mocked.get(f"{API}/pixel/list/", json=fixture("pixel_list__success"))
    client, _delays = client_with_token()

    pixels = client.pixels(advertiser_id=A1)

    assert [p["pixel_code"] for p in pixels] == [
        "CB9N1C3RC77U0EEQTPV0",
        "CC0K2QJC77UAAP9A9EOG",
        "CD7OPQRST12UVWXYZ345",
    ]
    query = query_of(mocked.calls[0])
    assert (query["advertiser_id"], query["page"], query["page_size"]) == (A1, "1", "20")


def test_pixels_walks_every_page_of_20(mocked):
    mocked.get(f"{API}/pixel/list/", json=fixture("pixel_list__page1"))
    mocked.get(f"{API}/pixel/list/", json=fixture("pixel_list__page2"))
    client, _delays = client_with_token()

    pixels = client.pixels(advertiser_id=A1)

    assert len(pixels) == 22
    assert len({p["pixel_id"] for p in pixels}) == 22
    assert [query_of(call)["page"] for call in mocked.calls] == ["1", "2"]
    assert {query_of(call)["page_size"] for call in mocked.calls} == {"20"}


# --- actions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("object_type", "key", "operation_status"),
    [
        ("campaign", "campaign_ids", "DISABLE"),
        ("adgroup", "adgroup_ids", "ENABLE"),
        ("ad", "ad_ids", "DISABLE"),
    ],
)
def test_update_status_posts_json_to_the_objects_endpoint(
    mocked, object_type, key, operation_status
):
    body = fixture(f"{object_type}_status_update__success")
    ids = body["data"][key]
    mocked.post(
        f"{API}/{object_type}/status/update/",
        json=body,
        match=[
            matchers.json_params_matcher(
                {"advertiser_id": A1, key: ids, "operation_status": operation_status}
            ),
            matchers.header_matcher({"Access-Token": TOKEN}),
        ],
    )
    client, _delays = client_with_token()

    data = client.update_status(
        advertiser_id=A1, object_type=object_type, ids=ids, operation_status=operation_status
    )

    assert data == body["data"]
    assert mocked.calls[0].request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"object_type": "creative", "ids": ["1"], "operation_status": "ENABLE"}, "object_type"),
        ({"object_type": "ad", "ids": ["1"], "operation_status": "DELETE"}, "operation_status"),
        ({"object_type": "ad", "ids": [], "operation_status": "ENABLE"}, "1 to 20"),
        (
            {
                "object_type": "campaign",
                "ids": [str(n) for n in range(21)],
                "operation_status": "ENABLE",
            },
            "1 to 20",
        ),
    ],
)
def test_update_status_refuses_what_tiktok_would_refuse_before_calling(mocked, kwargs, message):
    client, _delays = client_with_token()
    with pytest.raises(ValueError, match=message):
        client.update_status(advertiser_id=A1, **kwargs)
    assert len(mocked.calls) == 0


def test_update_adgroup_budget_posts_the_budget_list(mocked):
    mocked.post(
        f"{API}/adgroup/budget/update/",
        json=fixture("adgroup_budget_update__success"),
        match=[
            matchers.json_params_matcher(
                {
                    "advertiser_id": A1,
                    "budget": [{"adgroup_id": "1791234567800001", "budget": 150.5}],
                }
            )
        ],
    )
    client, _delays = client_with_token()

    data = client.update_adgroup_budget(
        advertiser_id=A1, adgroup_id="1791234567800001", budget=Decimal("150.50")
    )

    assert data == {}
    assert '"budget":150.5' in mocked.calls[0].request.body.decode()


@pytest.mark.parametrize("budget", [Decimal("0"), Decimal("-5"), Decimal("10.005"), Decimal("NaN")])
def test_update_adgroup_budget_refuses_impossible_amounts(mocked, budget):
    client, _delays = client_with_token()
    with pytest.raises(ValueError, match="budget"):
        client.update_adgroup_budget(advertiser_id=A1, adgroup_id="1", budget=budget)
    assert len(mocked.calls) == 0


def test_a_budget_below_tiktoks_minimum_is_a_final_provider_error(mocked):
    body = fixture("adgroup_budget_update__below_minimum")
    mocked.post(f"{API}/adgroup/budget/update/", json=body)
    client, delays = client_with_token()

    with pytest.raises(ProviderError) as caught:
        client.update_adgroup_budget(advertiser_id=A1, adgroup_id="1", budget=Decimal("5"))

    assert type(caught.value) is ProviderError
    assert caught.value.code == "40002"
    assert caught.value.message == body["message"]
    assert caught.value.request_id == body["request_id"]
    assert len(mocked.calls) == 1 and delays == []


def test_a_deleted_campaigns_status_cannot_change(mocked):
    body = fixture("campaign_status_update__deleted_campaign")
    mocked.post(f"{API}/campaign/status/update/", json=body)
    client, _delays = client_with_token()

    with pytest.raises(ProviderError) as caught:
        client.update_status(
            advertiser_id=A1, object_type="campaign", ids=["1"], operation_status="ENABLE"
        )

    assert caught.value.code == "40002"


ACTIONS = {
    "campaign_status_update": (
        "campaign/status/update/",
        lambda client: client.update_status(
            advertiser_id=A1,
            object_type="campaign",
            ids=["1801234567800001"],
            operation_status="DISABLE",
        ),
    ),
    "adgroup_budget_update": (
        "adgroup/budget/update/",
        lambda client: client.update_adgroup_budget(
            advertiser_id=A1, adgroup_id="1791234567800001", budget=Decimal("100")
        ),
    ),
}
ACTION_ERRORS = [
    ("access_token_invalid", 200, TokenExpired, False),
    ("no_permission", 200, PermissionDenied, False),
    ("rate_limited", 200, RateLimited, True),
    ("server_error", 200, ProviderError, True),
    ("server_error", 500, ProviderError, True),
]


@pytest.mark.parametrize("endpoint", sorted(ACTIONS))
@pytest.mark.parametrize(("variant", "status", "error_class", "transient"), ACTION_ERRORS)
def test_action_errors_are_typed_and_never_retried(
    mocked, endpoint, variant, status, error_class, transient
):
    """Each error class of the table, on each action: typed, and sent exactly once.

    Actions are not repeatable: even a throttle or a server error, which a
    read would retry, is handed back to the caller, since the first attempt
    may have taken effect.
    """
    path, call = ACTIONS[endpoint]
    body = fixture(f"{endpoint}__{variant}")
    mocked.post(f"{API}/{path}", json=body, status=status)
    client, delays = client_with_token()

    with pytest.raises(ProviderError) as caught:
        call(client)

    assert type(caught.value) is error_class
    assert caught.value.transient is transient
    assert caught.value.code == str(body["code"])
    assert caught.value.request_id == body["request_id"]
    assert len(mocked.calls) == 1
    assert delays == []


@pytest.mark.parametrize("endpoint", sorted(ACTIONS))
def test_an_action_that_times_out_is_not_repeated(mocked, endpoint):
    path, call = ACTIONS[endpoint]
    mocked.post(f"{API}/{path}", body=requests.exceptions.ReadTimeout("slow"))
    client, _delays = client_with_token()

    with pytest.raises(TransportError):
        call(client)

    assert len(mocked.calls) == 1
