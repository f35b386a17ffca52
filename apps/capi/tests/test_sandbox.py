"""The sandbox's Conversions API, Events API and lead re-fetch: real validation, per-event answers."""

from __future__ import annotations

import time

import pytest
import requests
from django.conf import settings

from apps.meta_ads.client import appsecret_proof
from apps.sandbox.views.capi import accepted_count

pytestmark = pytest.mark.django_db

GRAPH = f"{settings.META_GRAPH_BASE}/{settings.META_GRAPH_VERSION}"
ADS = f"{settings.TIKTOK_ADS_API_BASE}/open_api/v1.3"


def bm_event(n: int = 1, **changes) -> dict:
    event = {
        "event_name": "LeadSubmitted",
        "event_time": int(time.time()) - 60,
        "event_id": f"lead-{n}",
        "action_source": "business_messaging",
        "messaging_channel": "whatsapp",
        "user_data": {"whatsapp_business_account_id": "102290129340398", "ctwa_clid": "clid"},
    }
    event.update(changes)
    return event


def meta_post(token: str, body: dict, dataset: str = "912345678901234"):
    params = {
        "access_token": token,
        "appsecret_proof": appsecret_proof(app_secret=settings.META_APP_SECRET, access_token=token),
    }
    return requests.post(f"{GRAPH}/{dataset}/events", params=params, json=body, timeout=5)


def test_meta_accepts_a_batch_and_counts_it(sandbox, meta_token):
    response = meta_post(meta_token, {"data": [bm_event(1), bm_event(2)], "partner_agent": "hub"})
    assert response.status_code == 200
    body = response.json()
    assert body["events_received"] == 2
    assert body["messages"] == []
    assert body["fbtrace_id"]
    assert accepted_count("meta", "lead-1") == 1


@pytest.mark.parametrize(
    ("event", "subcode", "words"),
    [
        (bm_event(event_time=int(time.time()) - 8 * 24 * 3600), 2804003, "older than 7 days"),
        (bm_event(event_name="Lead"), 2804066, "not a supported event"),
        (bm_event(user_data={"ctwa_clid": "clid"}), 2804116, "whatsapp_business_account_id"),
        (bm_event(event_time="1700000000"), None, "event_time"),
        (bm_event(user_data={}), None, "user_data"),
        (bm_event(action_source="carrier_pigeon"), None, "action_source"),
    ],
)
def test_meta_one_invalid_event_rejects_the_whole_batch(sandbox, meta_token, event, subcode, words):
    good = bm_event(99)
    response = meta_post(meta_token, {"data": [good, event]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert error.get("error_subcode") == subcode
    assert words in error["message"]
    assert error["fbtrace_id"]
    assert accepted_count("meta", "lead-99") == 0, "nothing of a refused batch is processed"


def test_meta_batch_limits_and_token(sandbox, meta_token):
    too_many = meta_post(meta_token, {"data": [bm_event(n) for n in range(1001)]})
    assert too_many.status_code == 400 and "1000" in too_many.json()["error"]["message"]
    assert meta_post(meta_token, {"data": []}).status_code == 400
    no_token = requests.post(f"{GRAPH}/1/events", json={"data": [bm_event()]}, timeout=5)
    assert no_token.json()["error"]["code"] == 2500
    bad_proof = requests.post(
        f"{GRAPH}/1/events",
        params={"access_token": meta_token, "appsecret_proof": "0" * 64},
        json={"data": [bm_event()]},
        timeout=5,
    )
    assert bad_proof.json()["error"]["code"] == 100


def test_meta_takes_the_form_encoded_variant_too(sandbox, meta_token):
    import json

    params = {
        "access_token": meta_token,
        "appsecret_proof": appsecret_proof(
            app_secret=settings.META_APP_SECRET, access_token=meta_token
        ),
    }
    response = requests.post(
        f"{GRAPH}/912345678901234/events",
        params=params,
        data={"data": json.dumps([bm_event(5)]), "test_event_code": "TEST1"},
        timeout=5,
    )
    assert response.json()["events_received"] == 1


def test_meta_fails_on_demand(sandbox, meta_token):
    sandbox.inject(provider="meta", path_contains="/events", kind="500", times=2)
    assert meta_post(meta_token, {"data": [bm_event()]}).status_code == 500
    assert meta_post(meta_token, {"data": [bm_event()]}).status_code == 500
    assert meta_post(meta_token, {"data": [bm_event()]}).status_code == 200


def tiktok_post(token: str | None, body: dict):
    headers = {"Access-Token": token} if token else {}
    return requests.post(f"{ADS}/event/track/", json=body, headers=headers, timeout=5).json()


def tt_event(n: int = 1, **changes) -> dict:
    event = {
        "event": "Lead",
        "event_time": int(time.time()),
        "event_id": f"lead-{n}",
        "user": {"ttclid": "E.C.P.x", "email": "a" * 64},
    }
    event.update(changes)
    return event


def test_tiktok_accepts_and_refuses_inside_http_200(sandbox, tiktok_token):
    base = {"event_source": "web", "event_source_id": "CUIVTBIE2FSNIPZQ4IYE"}
    ok = tiktok_post(tiktok_token, {**base, "data": [tt_event(1)]})
    assert (ok["code"], ok["message"]) == (0, "OK")
    assert ok["request_id"]
    assert accepted_count("tiktok", "lead-1") == 1

    assert tiktok_post(None, {**base, "data": [tt_event()]})["code"] == 40104
    assert tiktok_post("nope", {**base, "data": [tt_event()]})["code"] == 40105
    cases = [
        ({**base, "event_source": "pixel", "data": [tt_event()]}, "event_source"),
        ({"event_source": "web", "data": [tt_event()]}, "event_source_id"),
        ({**base, "data": [tt_event(n) for n in range(1001)]}, "data: Length"),
        ({**base, "data": [tt_event(2), tt_event(3, event_time="now")]}, "data[1].event_time"),
        ({**base, "data": [tt_event(4, user={"email": "x@example.com"})]}, "data[0].user.email"),
    ]
    for body, words in cases:
        answer = tiktok_post(tiktok_token, body)
        assert answer["code"] == 40002, body
        assert words in answer["message"]
    assert accepted_count("tiktok", "lead-2") == 0


def test_tiktok_fails_on_demand(sandbox, tiktok_token):
    sandbox.inject(provider="tiktok_ads", path_contains="event/track", kind="rate_limit")
    body = {"event_source": "web", "event_source_id": "PIX", "data": [tt_event()]}
    assert tiktok_post(tiktok_token, body)["code"] == 40100
    assert tiktok_post(tiktok_token, body)["code"] == 0


def test_lead_get_is_deterministic_and_scoped_to_the_tokens_advertisers(sandbox, tiktok_token):
    from apps.sandbox import generator

    account = generator.identities("tiktok_ads")[0].account_id
    advertiser = generator.advertisers(account)[0]["advertiser_id"]
    params = {"advertiser_id": advertiser, "lead_id": "7301234567890123457"}
    headers = {"Access-Token": tiktok_token}
    first = requests.get(f"{ADS}/lead/get/", params=params, headers=headers, timeout=5).json()
    again = requests.get(f"{ADS}/lead/get/", params=params, headers=headers, timeout=5).json()
    assert first["code"] == 0
    assert first["data"] == again["data"]
    assert first["data"]["meta_data"]["lead_id"] == "7301234567890123457"
    assert first["data"]["lead_data"]["ttclid"]
    foreign = requests.get(
        f"{ADS}/lead/get/",
        params={"advertiser_id": "7000000000000000009", "lead_id": "1"},
        headers=headers,
        timeout=5,
    ).json()
    assert foreign["code"] == 40001
