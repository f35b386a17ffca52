"""TikTok Ads: consent, token exchange, data endpoints, errors in HTTP 200, pagination."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import requests
from django.conf import settings

from apps.sandbox import generator

from .flows import HUB_CALLBACK, ads_auth_code, callback_params, first, sandbox_path

API = f"{settings.TIKTOK_ADS_API_BASE}/open_api/v1.3"


def exchange(code: str, secret: str | None = None) -> dict:
    body = {
        "app_id": settings.TIKTOK_APP_ID,
        "secret": secret or settings.TIKTOK_APP_SECRET,
        "auth_code": code,
    }
    return requests.post(f"{API}/oauth2/access_token/", json=body, timeout=5).json()


def get(path: str, token: str | None, **params) -> dict:
    headers = {"Access-Token": token} if token else {}
    response = requests.get(f"{API}/{path}", params=params, headers=headers, timeout=5)
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def token(client, sandbox) -> str:
    answer = exchange(ads_auth_code(client))
    assert answer["code"] == 0, answer
    return answer["data"]["access_token"]


def test_consent_screen_shows_the_app_and_both_choices(client, db):
    query = urlencode({"app_id": settings.TIKTOK_APP_ID, "redirect_uri": HUB_CALLBACK})
    page = client.get(f"{sandbox_path(settings.TIKTOK_ADS_AUTH_URL)}?{query}")
    assert page.status_code == 200
    assert b"Sandbox TikTok Ads app" in page.content
    assert b'value="authorize"' in page.content
    assert b'value="deny"' in page.content


def test_consent_refuses_an_unknown_app_or_a_foreign_redirect(client, db):
    path = sandbox_path(settings.TIKTOK_ADS_AUTH_URL)
    bad_app = urlencode({"app_id": "nope", "redirect_uri": HUB_CALLBACK})
    foreign = urlencode({"app_id": settings.TIKTOK_APP_ID, "redirect_uri": "https://evil.test/"})
    assert client.get(f"{path}?{bad_app}").status_code == 400
    assert client.get(f"{path}?{foreign}").status_code == 400


def test_deny_sends_back_the_state_and_no_code(client, db):
    params = {"app_id": settings.TIKTOK_APP_ID, "redirect_uri": HUB_CALLBACK, "state": "s1"}
    url = f"{sandbox_path(settings.TIKTOK_ADS_AUTH_URL)}?{urlencode(params)}"
    got = callback_params(client.post(url, {"decision": "deny"}))
    assert got == {"state": "s1"}


def test_consent_code_token_and_data_calls(client, sandbox):
    answer = exchange(ads_auth_code(client))
    assert answer["code"] == 0
    data = answer["data"]
    assert set(data) == {"access_token", "advertiser_ids", "scope"}
    assert all(isinstance(s, int) for s in data["scope"])
    assert len(data["advertiser_ids"]) == 2
    token = data["access_token"]

    listed = get(
        "oauth2/advertiser/get/",
        token,
        app_id=settings.TIKTOK_APP_ID,
        secret=settings.TIKTOK_APP_SECRET,
    )
    assert [a["advertiser_id"] for a in listed["data"]["list"]] == data["advertiser_ids"]

    info = get("advertiser/info/", token, advertiser_ids=json.dumps(data["advertiser_ids"]))
    assert {a["currency"] for a in info["data"]["list"]} <= {"USD", "BRL", "EUR"}
    assert all(a["status"].startswith("STATUS_") for a in info["data"]["list"])

    pixels = get("pixel/list/", token, advertiser_id=data["advertiser_ids"][0])
    assert pixels["data"]["page_info"]["total_number"] == generator.PIXELS_PER_ADVERTISER
    assert pixels["data"]["pixels"][0]["pixel_code"].startswith("C")


def test_auth_code_is_single_use(client, sandbox):
    code = ads_auth_code(client)
    assert exchange(code)["code"] == 0
    again = exchange(code)
    assert again["code"] == 40110
    assert again["request_id"]


def test_app_secret_mismatch_is_40101(client, sandbox):
    assert exchange(ads_auth_code(client), secret="wrong")["code"] == 40101


@pytest.mark.parametrize(("header", "code"), [(None, 40104), ("not-a-token", 40105)])
def test_missing_or_invalid_token_is_refused_in_http_200(sandbox, header, code):
    assert get("pixel/list/", header, advertiser_id="1")["code"] == code


def test_revoked_token_stops_working(token, sandbox):
    body = {
        "app_id": settings.TIKTOK_APP_ID,
        "secret": settings.TIKTOK_APP_SECRET,
        "access_token": token,
    }
    revoked = requests.post(f"{API}/oauth2/revoke_token/", json=body, timeout=5).json()
    assert revoked["code"] == 0
    assert len(revoked["data"]["advertiser_ids"]) == 2
    advertiser_id = revoked["data"]["advertiser_ids"][0]
    assert get("campaign/get/", token, advertiser_id=advertiser_id)["code"] == 40105


def test_refreshing_a_marketing_api_token_is_40107(sandbox):
    answer = requests.post(f"{API}/oauth2/refresh_token/", json={}, timeout=5).json()
    assert answer["code"] == 40107


def test_foreign_advertiser_and_bad_page_size_are_refused(token, sandbox):
    assert get("campaign/get/", token, advertiser_id="123")["code"] == 40001
    own = generator.advertisers(first("tiktok_ads").account_id)[0]["advertiser_id"]
    assert get("campaign/get/", token, advertiser_id=own, page_size=1001)["code"] == 40002
    assert get("pixel/list/", token, advertiser_id=own, page_size=21)["code"] == 40002


def _all_campaigns(token: str, advertiser_id: str, page_size: int, **extra) -> tuple[list, list]:
    pages, infos, page = [], [], 1
    while True:
        answer = get(
            "campaign/get/",
            token,
            advertiser_id=advertiser_id,
            page=page,
            page_size=page_size,
            **extra,
        )
        assert answer["code"] == 0, answer
        pages.append(answer["data"]["list"])
        infos.append(answer["data"]["page_info"])
        if page >= answer["data"]["page_info"]["total_page"]:
            return pages, infos
        page += 1


def test_campaign_pagination_totals_are_consistent_and_deterministic(token, sandbox):
    advertiser_id = generator.advertisers(first("tiktok_ads").account_id)[0]["advertiser_id"]
    pages, infos = _all_campaigns(token, advertiser_id, page_size=50)
    rows = [row for page in pages for row in page]
    assert [len(p) for p in pages] == [50, 50, 37]
    assert {i["total_number"] for i in infos} == {137}
    assert {i["total_page"] for i in infos} == {3}
    assert [i["page"] for i in infos] == [1, 2, 3]
    assert len({r["campaign_id"] for r in rows}) == 137

    again, _ = _all_campaigns(token, advertiser_id, page_size=137)
    assert [(r["campaign_id"], r["campaign_name"]) for r in again[0]] == [
        (r["campaign_id"], r["campaign_name"]) for r in rows
    ]


def test_deleted_campaigns_only_with_status_all(token, sandbox):
    advertiser_id = generator.advertisers(first("tiktok_ads").account_id)[1]["advertiser_id"]
    everything = json.dumps({"secondary_status": "CAMPAIGN_STATUS_ALL"})
    answer = get(
        "campaign/get/", token, advertiser_id=advertiser_id, filtering=everything, page_size=1000
    )
    total = generator.CAMPAIGNS_PER_ADVERTISER + generator.DELETED_CAMPAIGNS_PER_ADVERTISER
    assert answer["data"]["page_info"]["total_number"] == total


def test_fields_and_campaign_ids_filter(token, sandbox):
    advertiser_id = generator.advertisers(first("tiktok_ads").account_id)[0]["advertiser_id"]
    wanted = [c["campaign_id"] for c in generator.campaigns(advertiser_id)[:3]]
    answer = get(
        "campaign/get/",
        token,
        advertiser_id=advertiser_id,
        filtering=json.dumps({"campaign_ids": wanted}),
        fields=json.dumps(["campaign_name", "modify_time"]),
    )
    assert [r["campaign_id"] for r in answer["data"]["list"]] == wanted
    assert set(answer["data"]["list"][0]) == {"campaign_id", "campaign_name", "modify_time"}
