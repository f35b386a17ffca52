"""The Conversions API / Events API clients and the lead re-fetch, against real-shaped answers."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.conf import settings

from apps.capi.client import EVENT_TRACK_PATH, MetaConversionsClient, TikTokEventsClient
from apps.integrations.http import ProviderError, RateLimited, TokenExpired
from apps.meta_ads.client import appsecret_proof
from apps.tiktok_ads.client import LEAD_GET_PATH, TikTokAdsClient

from .conftest import fixture

pytestmark = pytest.mark.django_db

META_URL = f"{settings.META_GRAPH_BASE}/{settings.META_GRAPH_VERSION}/912345678901234/events"
TIKTOK_URL = f"{settings.TIKTOK_ADS_API_BASE}{EVENT_TRACK_PATH}"
EVENT = {"event_name": "LeadSubmitted", "event_time": 1795400000, "event_id": "lead-1"}


def meta_client() -> MetaConversionsClient:
    return MetaConversionsClient(access_token="EAAtoken123")


def tiktok_client() -> TikTokEventsClient:
    return TikTokEventsClient(access_token="act-token-123")


@responses.activate
def test_meta_send_events_posts_the_batch_with_token_and_proof():
    responses.add(responses.POST, META_URL, json=fixture("events__success"))
    answer = meta_client().send_events(dataset_id="912345678901234", events=[EVENT])
    request = responses.calls[0].request
    query = parse_qs(urlsplit(request.url).query)
    assert query["access_token"] == ["EAAtoken123"]
    assert query["appsecret_proof"] == [
        appsecret_proof(app_secret=settings.META_APP_SECRET, access_token="EAAtoken123")
    ]
    body = json.loads(request.body)
    assert body == {"data": [EVENT], "partner_agent": settings.CAPI_PARTNER_AGENT}
    assert (answer.events_received, answer.trace_id) == (1, "AuY1JhdXu3BXfV8oDzaKjhN")


@responses.activate
def test_meta_test_event_code_only_when_given():
    responses.add(responses.POST, META_URL, json=fixture("events__success"))
    meta_client().send_events(dataset_id="912345678901234", events=[EVENT], test_event_code="T1")
    assert json.loads(responses.calls[0].request.body)["test_event_code"] == "T1"


@pytest.mark.parametrize(
    ("name", "status", "error_class", "code", "transient"),
    [
        ("events__timestamp_too_old", 400, ProviderError, "100/2804003", False),
        ("events__invalid_event_type", 400, ProviderError, "100/2804066", False),
        ("events__missing_business_account", 400, ProviderError, "100/2804116", False),
        ("events__object_does_not_exist", 400, ProviderError, "100/33", False),
        ("events__service_unavailable", 500, ProviderError, "2", True),
        ("events__expired_token", 400, TokenExpired, "190/463", False),
        ("events__app_rate_limit", 400, RateLimited, "4", True),
    ],
)
@responses.activate
def test_meta_errors_are_classified(name, status, error_class, code, transient):
    responses.add(responses.POST, META_URL, json=fixture(name), status=status)
    with pytest.raises(ProviderError) as raised:
        meta_client().send_events(dataset_id="912345678901234", events=[EVENT])
    assert type(raised.value) is error_class
    assert (raised.value.code, raised.value.transient) == (code, transient)
    assert raised.value.request_id == fixture(name)["error"]["fbtrace_id"]
    assert len(responses.calls) == 1, "never repeated by the client: the dispatcher decides"


@responses.activate
def test_tiktok_track_posts_the_batch_with_the_access_token_header():
    responses.add(responses.POST, TIKTOK_URL, json=fixture("event_track__success"))
    answer = tiktok_client().track(event_source_id="CUIVTBIE2FSNIPZQ4IYE", events=[EVENT, EVENT])
    request = responses.calls[0].request
    assert request.headers["Access-Token"] == "act-token-123"
    body = json.loads(request.body)
    assert (body["event_source"], body["event_source_id"], len(body["data"])) == (
        "web",
        "CUIVTBIE2FSNIPZQ4IYE",
        2,
    )
    assert "test_event_code" not in body
    assert (answer.events_received, answer.trace_id, answer.message) == (
        2,
        "2026112304122917C8E3C1A0B95A4F0E2C",
        "",
    )


@responses.activate
def test_tiktok_partial_success_keeps_the_message():
    responses.add(responses.POST, TIKTOK_URL, json=fixture("event_track__partial_success"))
    answer = tiktok_client().track(event_source_id="PIX", events=[EVENT])
    assert answer.provider_code == "20001"
    assert "Partial success" in answer.message


@pytest.mark.parametrize(
    ("name", "error_class", "code", "transient"),
    [
        ("event_track__bad_parameter", ProviderError, "40002", False),
        ("event_track__rate_limited", RateLimited, "40100", True),
        ("event_track__access_token_invalid", TokenExpired, "40105", False),
        ("event_track__server_error", ProviderError, "50000", True),
    ],
)
@responses.activate
def test_tiktok_errors_inside_http_200_are_classified(name, error_class, code, transient):
    responses.add(responses.POST, TIKTOK_URL, json=fixture(name))
    with pytest.raises(ProviderError) as raised:
        tiktok_client().track(event_source_id="PIX", events=[EVENT])
    assert type(raised.value) is error_class
    assert (raised.value.code, raised.value.transient) == (code, transient)
    assert len(responses.calls) == 1


def test_tiktok_events_have_their_own_budget():
    client = tiktok_client()
    assert client.rate_limit == (1000, 1.0)
    assert client.rate_key.endswith(":event_track")
    assert TikTokAdsClient().rate_key != client.rate_key


@responses.activate
def test_lead_refetch_asks_by_id():
    url = f"{settings.TIKTOK_ADS_API_BASE}{LEAD_GET_PATH}"
    responses.add(responses.GET, url, json=fixture("lead_get__success"))
    data = TikTokAdsClient(access_token="act-token").lead(
        advertiser_id="7678455504112693940", lead_id="7301234567890123456"
    )
    query = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert query == {
        "advertiser_id": ["7678455504112693940"],
        "lead_id": ["7301234567890123456"],
        "lead_source": ["INSTANT_FORM"],
    }
    assert data["meta_data"]["lead_id"] == "7301234567890123456"
    assert data["lead_data"]["email"] == "ana.silva@example.com"


@responses.activate
def test_lead_refetch_refused_is_a_permission_error():
    url = f"{settings.TIKTOK_ADS_API_BASE}{LEAD_GET_PATH}"
    responses.add(responses.GET, url, json=fixture("lead_get__no_permission"))
    with pytest.raises(ProviderError) as raised:
        TikTokAdsClient(access_token="act-token").lead(advertiser_id="1", lead_id="2")
    assert raised.value.code == "40001"
