"""ProviderClient: timeouts, retries only when safe, typed errors, one refresh, the call log."""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from apps.integrations.http import (
    PermissionDenied,
    ProviderClient,
    ProviderError,
    ProviderResponse,
    RateLimited,
    TokenExpired,
    TransportError,
    parse_retry_after,
)
from apps.integrations.models import ApiCallLog
from apps.integrations.redaction import register_secret

pytestmark = pytest.mark.django_db

BASE = "https://api.provider.test"
TOKEN = "tok-SECRET-access-0001"
NEW_TOKEN = "tok-SECRET-access-0002"
APP_SECRET = "app-SECRET-signing-0003"


class PlainClient(ProviderClient):
    product = "test_plain"


class InBodyThrottleClient(ProviderClient):
    """Answers like TikTok: HTTP 200 with ``code`` 40100 when throttled."""

    product = "test_inbody"

    def classify(self, *, status_code: int, body: Any, headers: Mapping) -> ProviderError | None:
        if isinstance(body, Mapping) and body.get("code") == 40100:
            return RateLimited("throttled", code="40100", status_code=status_code)
        return super().classify(status_code=status_code, body=body, headers=headers)


class SigningClient(ProviderClient):
    """Signs like TikTok Shop: the app secret and a signature travel in the query string."""

    product = "test_signing"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        register_secret(APP_SECRET)  # what every signing client does with its app secret

    def prepare(self, *, method, url, params, headers, body, authenticated):
        params["app_secret"] = APP_SECRET
        params["sign"] = f"sig-{time.monotonic_ns()}"
        if authenticated:
            headers["x-tts-access-token"] = self.access_token
        return url, params, headers


def make(cls: type[ProviderClient] = PlainClient, **kwargs) -> tuple[ProviderClient, list[float]]:
    client = cls(base_url=BASE, **kwargs)
    delays: list[float] = []
    client._sleep = delays.append
    return client, delays


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


# --- retries --------------------------------------------------------------------------


def test_a_429_with_retry_after_is_retried_once_after_really_waiting(mocked):
    mocked.get(f"{BASE}/items", status=429, headers={"Retry-After": "1"}, json={})
    mocked.get(f"{BASE}/items", json={"items": [1, 2]})
    client = PlainClient(base_url=BASE)  # the real time.sleep

    started = time.monotonic()
    response = client.request("GET", "/items")
    elapsed = time.monotonic() - started

    assert elapsed >= 1.0
    assert len(mocked.calls) == 2
    assert response.status_code == 200
    assert response.body == {"items": [1, 2]}


def test_repeated_500s_end_in_provider_error_after_max_attempts_with_growing_delays(mocked):
    mocked.get(f"{BASE}/items", status=500, json={"message": "upstream broke"})
    client, delays = make()
    client._jitter = lambda ceiling: ceiling  # the top of each jitter range

    with pytest.raises(ProviderError) as caught:
        client.request("GET", "/items")

    assert type(caught.value) is ProviderError
    assert caught.value.status_code == 500
    assert caught.value.transient
    assert len(mocked.calls) == client.max_attempts == 4
    assert delays == [0.5, 1.0, 2.0]


def test_backoff_uses_full_jitter_under_a_cap(mocked):
    mocked.get(f"{BASE}/items", status=503)
    client, delays = make()
    client.backoff_base, client.backoff_max, client.max_attempts = 10.0, 15.0, 5

    with pytest.raises(ProviderError):
        client.request("GET", "/items")

    ceilings = [10.0, 15.0, 15.0, 15.0]
    assert len(delays) == len(ceilings)
    assert all(0.0 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))


def test_a_408_is_transient_and_retried(mocked):
    mocked.get(f"{BASE}/items", status=408)
    mocked.get(f"{BASE}/items", json={"ok": True})
    client, delays = make()

    assert client.request("GET", "/items").body == {"ok": True}
    assert len(delays) == 1


def test_retry_after_wins_over_backoff_and_a_longer_one_ends_the_call(mocked):
    mocked.get(f"{BASE}/items", status=503, headers={"Retry-After": "7"})
    mocked.get(f"{BASE}/items", status=429, headers={"Retry-After": "3600"})
    client, delays = make()

    # An hour is longer than a worker should hold a call open: raise, let the run resume later.
    with pytest.raises(RateLimited) as caught:
        client.request("GET", "/items")

    assert delays == [7.0]
    assert caught.value.retry_after == 3600
    assert len(mocked.calls) == 2


def test_other_4xx_are_final_and_not_retried(mocked):
    mocked.get(f"{BASE}/items", status=400, json={"message": "bad parameter"})
    client, delays = make()

    with pytest.raises(ProviderError, match="bad parameter") as caught:
        client.request("GET", "/items")

    assert not caught.value.transient
    assert len(mocked.calls) == 1
    assert delays == []


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(401, TokenExpired), (403, PermissionDenied), (429, RateLimited), (502, ProviderError)],
)
def test_default_classification_by_http_status(status, error_class):
    client = PlainClient(base_url=BASE)
    error = client.classify(status_code=status, body=None, headers={"Retry-After": "5"})
    assert type(error) is error_class
    assert error.status_code == status
    assert client.classify(status_code=200, body={"any": 1}, headers={}) is None


def test_a_post_is_not_retried_after_a_read_timeout(mocked):
    mocked.post(f"{BASE}/orders", body=requests.exceptions.ReadTimeout("read timed out"))
    client, delays = make()

    with pytest.raises(TransportError, match="read timeout"):
        client.request("POST", "/orders", json={"sku": "A-1"})

    assert len(mocked.calls) == 1
    assert delays == []


def test_a_post_is_not_retried_after_a_connection_error_or_a_500(mocked):
    mocked.post(f"{BASE}/refused", body=requests.exceptions.ConnectionError("refused"))
    mocked.post(f"{BASE}/broken", status=500)
    client, delays = make()

    with pytest.raises(TransportError):
        client.request("POST", "/refused", json={})
    with pytest.raises(ProviderError):
        client.request("POST", "/broken", json={})

    assert len(mocked.calls) == 2
    assert delays == []


def test_a_get_is_retried_after_timeouts_then_raises_transport_error(mocked):
    mocked.get(f"{BASE}/items", body=requests.exceptions.ConnectTimeout("connect timed out"))
    client, delays = make()

    with pytest.raises(TransportError) as caught:
        client.request("GET", "/items")

    assert caught.value.status_code is None
    assert len(mocked.calls) == 4
    assert len(delays) == 3


def test_a_post_marked_repeatable_is_retried_and_a_put_is_by_default(mocked):
    mocked.post(f"{BASE}/idempotent", status=502)
    mocked.post(f"{BASE}/idempotent", json={"done": True})
    mocked.put(f"{BASE}/items/1", status=503)
    mocked.put(f"{BASE}/items/1", json={"done": True})
    client, delays = make()

    assert client.request("POST", "/idempotent", json={}, repeatable=True).body == {"done": True}
    assert client.request("PUT", "/items/1", json={}).body == {"done": True}
    assert len(delays) == 2


def test_a_transport_error_message_never_repeats_the_query_string(mocked):
    leaky = f"Max retries exceeded with url: /token/get?app_secret={APP_SECRET}&sign=abc"
    mocked.get(f"{BASE}/token/get", body=requests.exceptions.ConnectionError(leaky))
    client, _delays = make(SigningClient, access_token=TOKEN)
    client.max_attempts = 1

    with pytest.raises(TransportError) as caught:
        client.request("GET", "/token/get")

    assert APP_SECRET not in str(caught.value)
    assert APP_SECRET not in repr(caught.value)
    assert caught.value.__cause__ is None  # the requests exception (and its URL) is not chained


def test_every_call_has_connect_and_read_timeouts(mocked):
    mocked.get(f"{BASE}/items", json={})
    client, _delays = make()
    client.connect_timeout, client.read_timeout = 2.5, 12.0

    client.request("GET", "/items")

    assert mocked.calls[0].request.req_kwargs["timeout"] == (2.5, 12.0)


# --- throttling inside the body --------------------------------------------------------


def test_a_throttle_code_inside_http_200_is_retried_when_repeatable(mocked):
    mocked.get(f"{BASE}/report", json={"code": 40100, "message": "too many requests"})
    mocked.get(f"{BASE}/report", json={"code": 0, "data": {"rows": 3}, "request_id": "req-9"})
    client, delays = make(InBodyThrottleClient)

    response = client.request("GET", "/report")

    assert response.body["data"] == {"rows": 3}
    assert response.request_id == "req-9"
    assert response.provider_code == "0"
    assert len(mocked.calls) == 2
    assert len(delays) == 1


def test_a_throttle_code_on_a_post_is_raised_without_retrying(mocked):
    mocked.post(f"{BASE}/create", json={"code": 40100, "message": "too many requests"})
    client, delays = make(InBodyThrottleClient)

    with pytest.raises(RateLimited):
        client.request("POST", "/create", json={"name": "x"})

    assert len(mocked.calls) == 1
    assert delays == []


# --- expired tokens ---------------------------------------------------------------------


def bearer(token: str):
    return [matchers.header_matcher({"Authorization": f"Bearer {token}"})]


def test_an_expired_token_is_refreshed_once_and_the_call_retried_with_the_new_token(mocked):
    mocked.get(f"{BASE}/me", status=401, match=bearer(TOKEN))
    mocked.get(f"{BASE}/me", json={"id": "u1"}, match=bearer(NEW_TOKEN))
    refreshes: list[str] = []

    def refresher() -> str:
        refreshes.append("called")
        return NEW_TOKEN

    client, delays = make(access_token=TOKEN, token_refresher=refresher)

    assert client.request("GET", "/me").body == {"id": "u1"}
    assert refreshes == ["called"]
    assert client.access_token == NEW_TOKEN
    assert delays == []


def test_an_expired_token_on_a_post_is_also_refreshed_and_sent_once_more(mocked):
    mocked.post(f"{BASE}/publish", status=401, match=bearer(TOKEN))
    mocked.post(f"{BASE}/publish", json={"ok": True}, match=bearer(NEW_TOKEN))
    client, _delays = make(access_token=TOKEN, token_refresher=lambda: NEW_TOKEN)

    assert client.request("POST", "/publish", json={}).body == {"ok": True}
    assert len(mocked.calls) == 2


def test_a_token_refused_twice_raises_after_one_refresh(mocked):
    mocked.get(f"{BASE}/me", status=401)
    refreshes: list[int] = []
    client, _delays = make(
        access_token=TOKEN, token_refresher=lambda: refreshes.append(1) or NEW_TOKEN
    )

    with pytest.raises(TokenExpired):
        client.request("GET", "/me")

    assert refreshes == [1]
    assert len(mocked.calls) == 2


def test_an_expired_token_without_a_refresher_raises_at_once(mocked):
    mocked.get(f"{BASE}/me", status=401)
    client, _delays = make(access_token=TOKEN)

    with pytest.raises(TokenExpired):
        client.request("GET", "/me")

    assert len(mocked.calls) == 1


def test_an_unauthenticated_call_refused_with_401_never_triggers_a_refresh(mocked):
    mocked.post(f"{BASE}/oauth/token", status=401)
    refreshes: list[int] = []
    client, _delays = make(token_refresher=lambda: refreshes.append(1) or NEW_TOKEN)

    with pytest.raises(TokenExpired):
        client.request("POST", "/oauth/token", data={"grant_type": "x"}, authenticated=False)

    assert refreshes == []
    assert "Authorization" not in mocked.calls[0].request.headers


# --- the call log ------------------------------------------------------------------------


def test_every_attempt_writes_one_row_with_the_path_and_no_secret(mocked, tenant_a, caplog):
    mocked.get(f"{BASE}/api/orders/search", status=500, json={"message": f"echo {APP_SECRET}"})
    mocked.get(
        f"{BASE}/api/orders/search",
        json={"code": 0, "request_id": "req-42", "data": {"access_token": TOKEN}},
    )
    client, _delays = make(SigningClient, tenant=tenant_a, access_token=TOKEN)

    with caplog.at_level(logging.INFO, logger="apps.integrations.http"):
        client.request("GET", "/api/orders/search", params={"page_size": 50})

    sent = mocked.calls[1].request
    assert f"app_secret={APP_SECRET}" in sent.url  # the provider did get it ...
    rows = list(ApiCallLog.objects.order_by("attempt").values())
    assert [(r["attempt"], r["status_code"]) for r in rows] == [(1, 500), (2, 200)]
    assert {r["path"] for r in rows} == {"/api/orders/search"}
    assert {r["product"] for r in rows} == {"test_signing"}
    assert {r["tenant_id"] for r in rows} == {tenant_a.pk}
    assert rows[1]["request_id"] == "req-42"
    assert rows[0]["error"]
    assert rows[1]["error"] == ""
    for row in rows:  # ... but no column of the log holds a secret or a query string
        for value in row.values():
            text = str(value)
            assert TOKEN not in text
            assert APP_SECRET not in text
            assert "?" not in text
            assert "sig-" not in text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("provider call") == 2
    assert TOKEN not in logged
    assert APP_SECRET not in logged


def test_a_transport_failure_is_logged_too(mocked):
    mocked.post(f"{BASE}/orders", body=requests.exceptions.ConnectionError("refused"))
    client, _delays = make()

    with pytest.raises(TransportError):
        client.request("POST", "/orders", json={})

    row = ApiCallLog.objects.get()
    assert row.status_code is None
    assert "connection error" in row.error


def test_a_broken_call_log_never_breaks_the_call(mocked, monkeypatch, caplog):
    from django.db import DatabaseError

    def refuse(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(ApiCallLog, "save", refuse)
    mocked.get(f"{BASE}/items", json={"ok": True})
    client, _delays = make()

    with caplog.at_level(logging.WARNING, logger="apps.integrations.calllog"):
        assert client.request("GET", "/items").body == {"ok": True}

    assert "api call log write failed" in caplog.text


# --- the rate budget -----------------------------------------------------------------------


def test_a_spent_budget_stops_the_call_before_it_is_sent(mocked):
    mocked.get(f"{BASE}/items", json={})
    client, _delays = make(rate_key="app-1")
    client.rate_limit = (2, 3600.0)
    client.rate_limit_max_wait = 0.0
    client._clock = lambda: 7200.0  # the start of a window

    client.request("GET", "/items")
    client.request("GET", "/items")
    with pytest.raises(RateLimited) as caught:
        client.request("GET", "/items")

    assert caught.value.retry_after == pytest.approx(3600.0)
    assert len(mocked.calls) == 2


# --- the error type ----------------------------------------------------------------------


def test_provider_errors_are_redacted_pickle_and_show_code_and_request_id():
    error = RateLimited(
        f"slow down, token {TOKEN} is busy", code="40100", request_id="req-1", retry_after=2.0
    )

    assert str(error) == "slow down, token [redacted] is busy (code 40100, request id req-1)"
    assert error.message == "slow down, token [redacted] is busy"
    assert error.transient
    restored = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(restored) is RateLimited
    assert (restored.code, restored.request_id, restored.retry_after) == ("40100", "req-1", 2.0)
    assert str(restored) == str(error)


def test_transience_follows_the_class_or_the_status():
    assert ProviderError("x", status_code=503).transient
    assert not ProviderError("x", status_code=400).transient
    assert ProviderError("x", status_code=200, transient=True).transient
    assert not TokenExpired("x", status_code=500).transient
    assert TransportError("x").transient


def test_parse_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 85.0 <= parse_retry_after(when) <= 90.0
    past = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert parse_retry_after(past) == 0.0


def test_a_successful_answer_is_a_provider_response(mocked):
    mocked.get(f"{BASE}/items", body="not json", headers={"X-Request-Id": "hdr-1"})
    client, _delays = make()

    response = client.request("GET", "items")

    assert isinstance(response, ProviderResponse)
    assert response.body is None
    assert response.request_id == "hdr-1"
    assert response.provider_code == ""
