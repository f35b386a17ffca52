"""Fault injection: counted calls, "fail after k", Retry-After, timeouts, provider shapes."""

from __future__ import annotations

import json

import pytest
import requests
from django.conf import settings
from django.test import Client

from apps.sandbox import faults, generator

from .flows import ads_auth_code, first

API = f"{settings.TIKTOK_ADS_API_BASE}/open_api/v1.3"


@pytest.fixture
def ads(client, sandbox) -> dict:
    body = {
        "app_id": settings.TIKTOK_APP_ID,
        "secret": settings.TIKTOK_APP_SECRET,
        "auth_code": ads_auth_code(client),
    }
    data = requests.post(f"{API}/oauth2/access_token/", json=body, timeout=5).json()["data"]
    advertiser_id = generator.advertisers(first("tiktok_ads").account_id)[0]["advertiser_id"]
    return {"token": data["access_token"], "advertiser_id": advertiser_id}


def campaign_page(ads: dict, page: int) -> requests.Response:
    params = {"advertiser_id": ads["advertiser_id"], "page": page, "page_size": 50}
    return requests.get(
        f"{API}/campaign/get/", params=params, headers={"Access-Token": ads["token"]}, timeout=5
    )


def test_500_after_two_fails_the_third_call_then_recovers(ads, sandbox):
    sandbox.inject(provider="tiktok_ads", path_contains="campaign/get", kind="500", after=2)
    statuses = [campaign_page(ads, page).status_code for page in (1, 2, 3, 3)]
    assert statuses == [200, 200, 500, 200]
    assert campaign_page(ads, 1).json()["code"] == 0
    assert sandbox.calls("campaign/get") == 5
    assert sandbox.calls("oauth2/access_token") == 1


def test_fault_body_is_the_providers_envelope(ads, sandbox):
    sandbox.inject(provider="tiktok_ads", path_contains="campaign/get", kind="500")
    answer = campaign_page(ads, 1).json()
    assert answer["code"] == 50000
    assert answer["request_id"]


def test_429_carries_retry_after_when_given(ads, sandbox):
    sandbox.inject(provider="tiktok_ads", path_contains="campaign/get", kind="429", retry_after=7)
    sandbox.inject(provider="tiktok_ads", path_contains="campaign/get", kind="429", after=1)
    first_try = campaign_page(ads, 1)
    assert first_try.status_code == 429
    assert first_try.headers["Retry-After"] == "7"
    second_try = campaign_page(ads, 1)
    assert second_try.status_code == 429
    assert "Retry-After" not in second_try.headers
    assert campaign_page(ads, 1).status_code == 200


def test_rate_limit_is_tiktok_ads_real_signal(ads, sandbox):
    sandbox.inject(provider="tiktok_ads", path_contains="campaign/get", kind="rate_limit")
    response = campaign_page(ads, 1)
    assert response.status_code == 200
    assert response.json()["code"] == 40100


def test_timeout_surfaces_as_read_timeout(ads, sandbox):
    sandbox.inject(provider="tiktok_ads", path_contains="campaign/get", kind="timeout")
    with pytest.raises(requests.exceptions.ReadTimeout):
        campaign_page(ads, 1)
    assert campaign_page(ads, 1).status_code == 200


def test_timeout_over_real_http_waits_then_answers_504(db, settings):
    settings.SANDBOX_TIMEOUT_SECONDS = 0
    faults.clear()
    faults.inject(provider="tiktok_ads", path_contains="pixel/list", kind="timeout", retry_after=3)
    response = Client().get("/sandbox/tiktok-ads/open_api/v1.3/pixel/list/")
    assert response.status_code == 504
    assert response["Retry-After"] == "3"
    faults.clear()


@pytest.mark.parametrize(
    ("provider", "path", "status", "check"),
    [
        (
            "tiktok_shop",
            "/tiktok-shop/open-api/authorization/202309/shops",
            200,
            lambda b: b["code"] == 105002,
        ),
        (
            "tiktok_content",
            "/tiktok-content/api/v2/user/info/",
            401,
            lambda b: b["error"]["code"] == "access_token_invalid",
        ),
        (
            "meta",
            f"/meta/graph/{settings.META_GRAPH_VERSION}/me",
            400,
            lambda b: (b["error"]["code"], b["error"]["error_subcode"]) == (190, 463),
        ),
        ("tiktok_ads", "/tiktok-ads/open_api/v1.3/pixel/list/", 200, lambda b: b["code"] == 40102),
    ],
)
def test_expired_token_fault_uses_each_providers_answer(sandbox, provider, path, status, check):
    sandbox.inject(provider=provider, path_contains=path, kind="expired_token")
    response = requests.get(sandbox.url(path), timeout=5)
    assert response.status_code == status
    assert check(response.json())


def test_a_fault_only_hits_its_provider(ads, sandbox):
    sandbox.inject(provider="meta", path_contains="/", kind="500", times=10)
    assert campaign_page(ads, 1).status_code == 200


def test_provider_aliases_and_validation(db):
    assert faults.inject(provider="meta_ads", path_contains="me", kind="500").provider == "meta"
    assert (
        faults.inject(provider="tiktok-shop", path_contains="x", kind="500").provider
        == "tiktok_shop"
    )
    with pytest.raises(ValueError, match="kind"):
        faults.inject(provider="meta", path_contains="me", kind="teapot")
    with pytest.raises(ValueError, match="provider"):
        faults.inject(provider="myspace", path_contains="me", kind="500")
    faults.clear()
    assert faults.active() == []


def test_active_lists_rules_until_they_are_spent(ads, sandbox):
    sandbox.inject(provider="tiktok_ads", path_contains="campaign/get", kind="500", times=2)
    assert len(faults.active()) == 1
    campaign_page(ads, 1)
    campaign_page(ads, 1)
    assert faults.active() == []


def test_clear_resets_counters(ads, sandbox):
    campaign_page(ads, 1)
    assert sandbox.calls("campaign/get") == 1
    sandbox.clear()
    assert sandbox.calls() == 0


def test_paged_sync_can_fail_exactly_page_two(ads, sandbox):
    sandbox.inject(provider="tiktok_ads", path_contains="campaign/get", kind="500", after=1)
    assert campaign_page(ads, 1).status_code == 200
    assert campaign_page(ads, 2).status_code == 500
    body = campaign_page(ads, 2).json()
    assert body["data"]["page_info"]["page"] == 2
    assert json.dumps(body)  # a normal page again
