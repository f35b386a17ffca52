"""MetaClient's Marketing API and WhatsApp calls: params, paging, answers, each error class."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from apps.integrations.http import PermissionDenied, ProviderError, RateLimited, TokenExpired
from apps.integrations.testing import load_fixture
from apps.meta_ads.client import (
    AD_ACCOUNT_FIELDS,
    AD_FIELDS,
    INSIGHT_FIELDS,
    PIXEL_FIELDS,
    MetaClient,
    act,
    appsecret_proof,
)

pytestmark = pytest.mark.django_db

APP = "meta_ads"
GRAPH = "https://graph.facebook.com/v25.0"
TOKEN = "EAAexampleUserToken000000000000000000000000000000"
ACCOUNT = "1585564276644314"


@pytest.fixture(autouse=True)
def real_hosts(settings):
    settings.META_GRAPH_BASE = "https://graph.facebook.com"
    settings.META_GRAPH_VERSION = "v25.0"
    settings.META_APP_ID = "100000000000001"
    settings.META_APP_SECRET = "test_app_secret"


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def client() -> MetaClient:
    c = MetaClient(access_token=TOKEN)
    c._sleep = lambda seconds: None
    return c


def query_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def test_act_builds_the_account_node():
    assert act("123") == "act_123"
    assert act("act_123") == "act_123"


# --- /me/adaccounts ---------------------------------------------------------------------------


def test_ad_accounts_page_asks_the_fields_and_returns_the_next_cursor(mocked, client):
    mocked.get(f"{GRAPH}/me/adaccounts", json=load_fixture(APP, "me_adaccounts__page1"))

    items, after = client.ad_accounts_page()

    assert [i["account_id"] for i in items] == ["1549833454461777", "1585564276644314"]
    assert after == "QVFIUnN6Ym1RdE9hZAG5"
    query = query_of(mocked.calls[0])
    assert query["fields"] == AD_ACCOUNT_FIELDS
    assert query["limit"] == "100"
    assert "after" not in query
    assert query["appsecret_proof"] == appsecret_proof(
        app_secret="test_app_secret", access_token=TOKEN
    )


def test_the_next_page_is_rebuilt_from_the_cursor_not_the_next_url(mocked, client):
    """``paging.next`` is never followed verbatim (it could point anywhere)."""
    mocked.get(f"{GRAPH}/me/adaccounts", json=load_fixture(APP, "me_adaccounts__page2"))

    items, after = client.ad_accounts_page(after="QVFIUnN6Ym1RdE9hZAG5")

    assert urlsplit(mocked.calls[0].request.url).path == "/v25.0/me/adaccounts"
    assert query_of(mocked.calls[0])["after"] == "QVFIUnN6Ym1RdE9hZAG5"
    assert [i["name"] for i in items] == ["Old Brand"]
    assert after is None  # no paging.next: the end, even though cursors are present


def test_an_empty_answer_without_paging_is_the_end(mocked, client):
    mocked.get(f"{GRAPH}/me/adaccounts", json=load_fixture(APP, "me_adaccounts__empty"))

    assert client.ad_accounts_page() == ([], None)


# --- pixels, ad, insights, dataset ------------------------------------------------------------


def test_ads_pixels_reads_the_account_edge(mocked, client):
    mocked.get(f"{GRAPH}/act_{ACCOUNT}/adspixels", json=load_fixture(APP, "act_adspixels__success"))

    pixels = client.ads_pixels(account_id=ACCOUNT)

    assert [p["id"] for p in pixels] == ["812345678901234", "823456789012345", "834567890123456"]
    assert query_of(mocked.calls[0])["fields"] == PIXEL_FIELDS


def test_ads_pixels_walks_every_page(mocked, client):
    first = load_fixture(APP, "act_adspixels__success")
    first["paging"]["next"] = f"{GRAPH}/act_{ACCOUNT}/adspixels?after=ODM0"
    mocked.get(f"{GRAPH}/act_{ACCOUNT}/adspixels", json=first)
    mocked.get(f"{GRAPH}/act_{ACCOUNT}/adspixels", json={"data": [{"id": "9", "name": "Last"}]})

    pixels = client.ads_pixels(account_id=ACCOUNT)

    assert len(pixels) == 4
    assert query_of(mocked.calls[1])["after"] == first["paging"]["cursors"]["after"]


def test_ad_uses_field_expansion_for_adset_and_campaign(mocked, client):
    mocked.get(f"{GRAPH}/120212345678900123", json=load_fixture(APP, "ad__success"))

    answer = client.ad(ad_id="120212345678900123")

    assert answer["campaign"] == {"id": "120212345678900789", "name": "Conversas WhatsApp 1"}
    assert (
        query_of(mocked.calls[0])["fields"]
        == AD_FIELDS
        == ("id,name,account_id,adset{id,name},campaign{id,name}")
    )


def test_ad_not_visible_to_this_user_is_a_final_provider_error(mocked, client):
    mocked.get(
        f"{GRAPH}/120212345678900123", status=400, json=load_fixture(APP, "ad__not_visible_100")
    )

    with pytest.raises(ProviderError) as caught:
        client.ad(ad_id="120212345678900123")

    assert type(caught.value) is ProviderError
    assert caught.value.code == "100/33"
    assert caught.value.transient is False
    assert len(mocked.calls) == 1


def test_insights_page_asks_daily_ad_rows_for_the_days(mocked, client):
    mocked.get(f"{GRAPH}/act_{ACCOUNT}/insights", json=load_fixture(APP, "act_insights__page1"))

    items, after = client.insights_page(
        account_id=ACCOUNT, since=date(2026, 11, 1), until=date(2026, 11, 21)
    )

    assert len(items) == 2
    assert after == "MQZDZD"
    query = query_of(mocked.calls[0])
    assert query["level"] == "ad"
    assert query["time_increment"] == "1"
    assert json.loads(query["time_range"]) == {"since": "2026-11-01", "until": "2026-11-21"}
    assert query["fields"] == INSIGHT_FIELDS
    assert "date_preset" not in query


def test_waba_dataset_posts_to_the_waba_edge(mocked, client):
    mocked.post(f"{GRAPH}/104523789012345/dataset", json=load_fixture(APP, "waba_dataset__success"))

    assert client.waba_dataset(waba_id="104523789012345") == "9123456789012345"
    assert mocked.calls[0].request.method == "POST"
    assert query_of(mocked.calls[0])["access_token"] == TOKEN


def test_waba_dataset_without_an_id_is_an_error(mocked, client):
    mocked.post(f"{GRAPH}/104523789012345/dataset", json={})

    with pytest.raises(ProviderError, match="without an id"):
        client.waba_dataset(waba_id="104523789012345")


# --- each error class on the calls this app makes ------------------------------------------

CALLS = {
    "ad_accounts": (f"{GRAPH}/me/adaccounts", "GET", lambda c: c.ad_accounts_page()),
    "pixels": (
        f"{GRAPH}/act_{ACCOUNT}/adspixels",
        "GET",
        lambda c: c.ads_pixels(account_id=ACCOUNT),
    ),
    "ad": (f"{GRAPH}/120212345678900123", "GET", lambda c: c.ad(ad_id="120212345678900123")),
    "insights": (
        f"{GRAPH}/act_{ACCOUNT}/insights",
        "GET",
        lambda c: c.insights_page(
            account_id=ACCOUNT, since=date(2026, 1, 1), until=date(2026, 1, 2)
        ),
    ),
    "dataset": (
        f"{GRAPH}/104523789012345/dataset",
        "POST",
        lambda c: c.waba_dataset(waba_id="104523789012345"),
    ),
}
ERRORS = [
    ("error__expired_token_190", TokenExpired, 1),
    ("error__app_removed_190_458", TokenExpired, 1),
    ("error__permission_200", PermissionDenied, 1),
    ("waba_dataset__permission_200", PermissionDenied, 1),
    ("error__invalid_parameter_100", ProviderError, 1),
    # Throttled answers are retried (safe calls) until the attempts are spent.
    ("error__user_rate_limit_17", RateLimited, 4),
    ("error__account_rate_limit_613", RateLimited, 4),
    ("error__buc_rate_limit_80004", RateLimited, 4),
]


@pytest.mark.parametrize("call_name", sorted(CALLS))
@pytest.mark.parametrize(("fixture", "expected", "attempts"), ERRORS)
def test_each_error_class_on_each_call(mocked, client, call_name, fixture, expected, attempts):
    url, method, call = CALLS[call_name]
    body = load_fixture(APP, fixture)
    mocked.add(method, url, status=400, json=body)

    with pytest.raises(expected) as caught:
        call(client)

    assert type(caught.value) is expected
    assert caught.value.request_id == body["error"]["fbtrace_id"]
    assert len(mocked.calls) == attempts
