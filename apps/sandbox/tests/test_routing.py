"""In-process routing: what goes through, what is refused, and the pages around it."""

from __future__ import annotations

import pytest
import requests
import responses
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from apps.sandbox import faults
from apps.sandbox.testing import sandbox_http

from .flows import HUB_CALLBACK, sandbox_path


def test_other_urls_are_refused(sandbox):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("https://business-api.tiktok.com/open_api/v1.3/campaign/get/", timeout=5)


def test_joins_an_existing_responses_mock(db):
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, "https://example.test/ping", json={"pong": True})
        with sandbox_http(mock):
            assert requests.get("https://example.test/ping", timeout=5).json() == {"pong": True}
            answer = requests.post(
                f"{settings.TIKTOK_ADS_API_BASE}/open_api/v1.3/oauth2/refresh_token/",
                json={},
                timeout=5,
            )
            assert answer.json()["code"] == 40107


def test_headers_query_and_status_travel_both_ways(sandbox):
    url = f"{settings.TIKTOK_CONTENT_API_BASE}/v2/user/info/"
    response = requests.get(
        url, params={"fields": "open_id"}, headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"


def test_consent_forms_need_csrf_but_api_views_do_not(db):
    strict = Client(enforce_csrf_checks=True)
    url = f"{sandbox_path(settings.TIKTOK_ADS_AUTH_URL)}?app_id={settings.TIKTOK_APP_ID}&redirect_uri={HUB_CALLBACK}"
    assert strict.post(url, {"decision": "authorize"}).status_code == 403
    api = strict.post(
        "/sandbox/tiktok-ads/open_api/v1.3/oauth2/access_token/",
        "{}",
        content_type="application/json",
    )
    assert api.status_code == 200
    assert api.json()["code"] == 40101


def test_index_is_staff_only_and_injects_faults(client, db):
    assert client.get("/sandbox/").status_code == 302
    staff = get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client.force_login(staff)
    faults.clear()
    page = client.get("/sandbox/")
    assert page.status_code == 200
    assert b"TikTok Shop" in page.content
    form = {
        "provider": "tiktok_ads",
        "path_contains": "pixel",
        "kind": "429",
        "times": "2",
        "after": "0",
        "retry_after": "5",
    }
    assert client.post("/sandbox/faults/inject", form).status_code == 302
    (fault,) = faults.active()
    assert (fault.kind, fault.times, fault.retry_after) == ("429", 2, 5)
    client.post("/sandbox/faults/clear")
    assert faults.active() == []
