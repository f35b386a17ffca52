"""TikTokShopClient: signed requests, shop_cipher rules, the error table, token calls, paging."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from apps.integrations.http import (
    PermissionDenied,
    ProviderError,
    RateLimited,
    TokenExpired,
    TransportError,
)
from apps.integrations.testing import load_fixture as shared_load_fixture
from apps.tiktok_shop.client import (
    ERROR_TABLE,
    MESSAGE_RULES,
    InvalidSignature,
    QuotaExhausted,
    TikTokShopClient,
)
from apps.tiktok_shop.signing import sign

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shop_settings")]

API = "https://open-api.tiktokglobalshop.com"
AUTH = "https://auth.tiktok-shops.com"
APP_KEY = "6abcd1234efgh"
APP_SECRET = "test-shop-app-secret-0123456789"
TOKEN = "ROW_scrubbed_access_token_in_tests_0000000000000"
SHOPS_URL = f"{API}/authorization/202309/shops"
ORDERS_SEARCH = "/order/202309/orders/search"
CIPHER = "ROW_scrubbedCipherUS0000000000000"


def load_fixture(name: str) -> dict:
    return shared_load_fixture("tiktok_shop", name)


def make_client(**kwargs) -> TikTokShopClient:
    kwargs.setdefault("access_token", TOKEN)
    client = TikTokShopClient(**kwargs)
    client._sleep = lambda seconds: None  # no real backoff in tests
    return client


def query_of(url: str) -> dict[str, str]:
    """The decoded query: what TikTok signs (percent-decoding undone)."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def assert_signed(request, *, path: str) -> dict[str, str]:
    """Recompute the signature of a captured request from what went over the wire."""
    query = query_of(request.url)
    unsigned = {key: value for key, value in query.items() if key != "sign"}
    expected = sign(
        path=path,
        params=unsigned,
        body=request.body,
        app_secret=APP_SECRET,
        content_type=request.headers.get("content-type"),
    )
    assert query["sign"] == expected
    return query


# --- signing a real request --------------------------------------------------------------------


def test_a_get_is_signed_with_app_key_fresh_timestamp_and_token_header(mocked):
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))
    before = int(time.time())

    shops = make_client().authorized_shops()

    assert [shop["cipher"] for shop in shops] == [
        "ROW_scrubbedCipherUS0000000000000",
        "GCP_scrubbedCipherGB0000000000000",
    ]
    request = mocked.calls[0].request
    query = assert_signed(request, path="/authorization/202309/shops")
    assert set(query) == {"app_key", "timestamp", "sign"}
    assert query["app_key"] == APP_KEY
    assert len(query["timestamp"]) == 10
    assert before <= int(query["timestamp"]) <= int(time.time())
    assert query["sign"] == query["sign"].lower()
    assert request.headers["x-tts-access-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"


def test_the_access_token_never_appears_in_the_url(mocked):
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))

    make_client().authorized_shops()

    url = mocked.calls[0].request.url
    assert TOKEN not in url
    assert "access_token" not in url


def test_a_post_signs_the_exact_body_bytes_sent(mocked):
    mocked.post(f"{API}{ORDERS_SEARCH}", json=load_fixture("orders_search__page2"))
    filters = {"order_status": "AWAITING_SHIPMENT", "update_time_ge": 1696900000}

    pages = list(
        make_client().paged(
            ORDERS_SEARCH,
            params={"sort_field": "update_time", "sort_order": "ASC"},
            shop_cipher=CIPHER,
            page_size=50,
            method="POST",
            json=filters,
        )
    )

    assert [len(items) for items, _token in pages] == [1]
    request = mocked.calls[0].request
    assert request.body == b'{"order_status":"AWAITING_SHIPMENT","update_time_ge":1696900000}'
    query = assert_signed(request, path=ORDERS_SEARCH)
    assert query["shop_cipher"] == CIPHER
    assert query["page_size"] == "50"
    assert request.headers["content-type"] == "application/json"


def test_the_signed_path_is_relative_to_a_base_url_with_a_path(mocked, settings):
    base = "http://testserver/sandbox/tiktok-shop/open-api"
    mocked.get(
        f"{base}/authorization/202309/shops", json=load_fixture("authorization_shops__two_shops")
    )

    make_client(base_url=base).authorized_shops()

    assert_signed(mocked.calls[0].request, path="/authorization/202309/shops")


def test_every_attempt_is_signed_again_with_a_fresh_timestamp(mocked):
    clock = iter(["1782408000", "1782408002"])
    mocked.get(SHOPS_URL, status=503, body="Service Unavailable")
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))
    client = make_client()
    client.timestamp = lambda: next(clock)

    client.authorized_shops()

    first, second = (call.request for call in mocked.calls)
    assert query_of(first.url)["timestamp"] == "1782408000"
    assert query_of(second.url)["timestamp"] == "1782408002"
    assert query_of(first.url)["sign"] != query_of(second.url)["sign"]
    assert_signed(first, path="/authorization/202309/shops")
    assert_signed(second, path="/authorization/202309/shops")


# --- shop_cipher ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/authorization/202309/shops"),
        ("GET", "/seller/202309/shops"),
        ("GET", "/seller/202309/permissions"),
        ("POST", "/product/202309/images/upload"),
        ("POST", "/product/202309/brands"),
    ],
)
def test_shop_cipher_is_never_sent_where_tiktok_rejects_it(mocked, method, path):
    mocked.add(method, f"{API}{path}", json={"code": 0, "message": "Success", "data": {}})

    make_client().request(method, path, params={"shop_cipher": CIPHER}, repeatable=True)

    query = assert_signed(mocked.calls[0].request, path=path)
    assert "shop_cipher" not in query


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/order/202309/orders"), ("GET", "/product/202309/brands")],
)
def test_shop_cipher_is_sent_and_signed_on_shop_level_endpoints(mocked, method, path):
    mocked.add(method, f"{API}{path}", json={"code": 0, "message": "Success", "data": {}})

    make_client().request(method, path, params={"shop_cipher": CIPHER, "ids": ["1", "2"]})

    query = assert_signed(mocked.calls[0].request, path=path)
    assert query["shop_cipher"] == CIPHER
    assert query["ids"] == "1,2"


# --- the error table: one test per row -------------------------------------------------------------

CODE_ROWS = [
    # code, fixture, HTTP status, error class, transient
    (105001, "authorization_shops__invalid_token", 200, TokenExpired, False),
    (105002, "authorization_shops__expired_token", 200, TokenExpired, False),
    (105003, "authorization_shops__revoked_token", 200, TokenExpired, False),
    (105005, "authorization_shops__scope_missing", 200, PermissionDenied, False),
    (36009002, "authorization_shops__rate_limited", 429, RateLimited, True),
    (36009003, "authorization_shops__internal_error", 200, ProviderError, True),
    (36009007, "authorization_shops__gateway_timeout", 200, ProviderError, True),
    (106001, "authorization_shops__invalid_sign", 200, InvalidSignature, False),
    (106013, "orders_search__missing_shop_cipher", 200, ProviderError, False),
    (45101004, "conversations__quota_exceeded", 200, QuotaExhausted, False),
]


def test_every_row_of_the_error_table_has_a_test():
    assert {row[0] for row in CODE_ROWS} == set(ERROR_TABLE["code"])
    assert set(ERROR_TABLE["http_status"]) == {429, 503}


@pytest.mark.parametrize(
    ("code", "fixture", "status", "error_class", "transient"),
    CODE_ROWS,
    ids=[str(row[0]) for row in CODE_ROWS],
)
def test_error_codes_are_classified_from_the_table(
    mocked, code, fixture, status, error_class, transient
):
    body = load_fixture(fixture)
    mocked.get(SHOPS_URL, status=status, json=body)
    client = make_client()

    with pytest.raises(ProviderError) as caught:
        client.authorized_shops()

    error = caught.value
    assert type(error) is error_class
    assert error.code == str(code)
    assert error.request_id == body["request_id"]
    assert error.message == body["message"]
    assert error.transient is transient
    # Transient rows are retried (a GET is safe to repeat); the others are final at once.
    assert len(mocked.calls) == (client.max_attempts if transient else 1)


#: 36009004 is overloaded: the message tells its cases apart (one row per rule, plus others).
MESSAGE_ROWS = [
    ("authorization_shops__token_header_invalid", TokenExpired),
    ("authorization_shops__sign_missing", InvalidSignature),
    ("authorization_shops__timestamp_out_of_range", ProviderError),
    ("authorization_shops__unexpected_shop_cipher", ProviderError),
]


def test_every_message_rule_has_a_row():
    classes = {error_class for _, error_class in MESSAGE_ROWS}
    assert {rule.error for _, rule in MESSAGE_RULES} <= classes


@pytest.mark.parametrize(("fixture", "error_class"), MESSAGE_ROWS, ids=[r[0] for r in MESSAGE_ROWS])
def test_36009004_is_classified_by_its_message(mocked, fixture, error_class):
    body = load_fixture(fixture)
    mocked.get(SHOPS_URL, json=body)

    with pytest.raises(ProviderError) as caught:
        make_client().authorized_shops()

    assert type(caught.value) is error_class
    assert caught.value.code == "36009004"
    assert caught.value.transient is False
    assert len(mocked.calls) == 1


def test_an_invalid_signature_says_signature_in_its_message(mocked):
    mocked.get(SHOPS_URL, json={"code": 106001, "message": "Bad request", "request_id": "r1"})

    with pytest.raises(InvalidSignature) as caught:
        make_client().authorized_shops()

    assert "signature" in str(caught.value).lower()
    assert caught.value.code == "106001"


def test_a_revoked_token_is_refreshed_once_then_given_up(mocked):
    """36009004 about the token header: refresh once; still refused means reconnect."""
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__token_header_invalid"))
    refreshes = []

    def refresher() -> str:
        refreshes.append(1)
        return "ROW_new_token_after_refresh_000000000000000000"

    client = make_client(token_refresher=refresher)
    with pytest.raises(TokenExpired):
        client.authorized_shops()

    assert len(refreshes) == 1
    assert len(mocked.calls) == 2


# --- orders ------------------------------------------------------------------------------------


def test_orders_search_posts_filters_and_pages_in_the_query_signed_with_the_cipher(mocked):
    mocked.post(f"{API}{ORDERS_SEARCH}", json=load_fixture("orders_search__page1"))

    page = make_client().orders_search(
        shop_cipher=CIPHER, page_token="tok/en+1==", update_time_ge=1696900000
    )

    request = mocked.calls[0].request
    query = assert_signed(request, path=ORDERS_SEARCH)
    assert query["shop_cipher"] == CIPHER
    assert query["page_size"] == "100"
    assert query["page_token"] == "tok/en+1=="
    assert (query["sort_field"], query["sort_order"]) == ("update_time", "ASC")
    assert request.body == b'{"update_time_ge":1696900000}'
    assert [o["id"] for o in page.orders] == ["576486316948490001", "576486316948490002"]
    assert page.next_page_token == "aDU2dmNUdmcxcGhZaW1SL0R2Z3dSQT09+cGFnZTI=/v2"
    assert page.total_count == 3


def test_a_search_is_a_read_and_is_retried_after_a_transient_failure(mocked):
    mocked.post(f"{API}{ORDERS_SEARCH}", json=load_fixture("authorization_shops__internal_error"))
    mocked.post(f"{API}{ORDERS_SEARCH}", json=load_fixture("orders_search__page1"))

    page = make_client().orders_search(shop_cipher=CIPHER)

    assert len(page.orders) == 2
    assert len(mocked.calls) == 2
    assert mocked.calls[0].request.body == mocked.calls[1].request.body


def test_orders_search_refuses_a_page_size_tiktok_would_refuse():
    with pytest.raises(ValueError, match="page_size"):
        make_client().orders_search(shop_cipher=CIPHER, page_size=101)


def test_orders_get_sends_comma_joined_ids_with_the_cipher(mocked):
    mocked.get(f"{API}/order/202309/orders", json=load_fixture("orders_get__one"))

    orders = make_client().orders_get(shop_cipher=CIPHER, order_ids=["576486316948490001", "2"])

    query = assert_signed(mocked.calls[0].request, path="/order/202309/orders")
    assert query["ids"] == "576486316948490001,2"
    assert query["shop_cipher"] == CIPHER
    assert [o["id"] for o in orders] == ["576486316948490001"]


def test_a_transient_code_succeeds_on_the_retry(mocked):
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__internal_error"))
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))

    shops = make_client().authorized_shops()

    assert len(shops) == 2
    assert len(mocked.calls) == 2


def test_throttling_honours_retry_after(mocked):
    sleeps: list[float] = []
    mocked.get(
        SHOPS_URL,
        status=429,
        json=load_fixture("authorization_shops__rate_limited"),
        headers={"Retry-After": "2"},
    )
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))
    client = make_client()
    client._sleep = sleeps.append

    client.authorized_shops()

    assert 2.0 in sleeps


def test_http_503_without_an_envelope_is_a_transient_provider_error(mocked):
    mocked.get(SHOPS_URL, status=503, body="<html>Service Unavailable</html>")
    client = make_client()

    with pytest.raises(ProviderError) as caught:
        client.authorized_shops()

    assert type(caught.value) is ProviderError
    assert caught.value.transient is True
    assert caught.value.status_code == 503
    assert len(mocked.calls) == client.max_attempts


def test_an_unknown_code_is_a_provider_error_with_the_request_id(mocked):
    body = load_fixture("authorization_shops__ip_not_allowed")
    mocked.get(SHOPS_URL, json=body)

    with pytest.raises(ProviderError) as caught:
        make_client().authorized_shops()

    assert type(caught.value) is ProviderError
    assert caught.value.code == "36009033"
    assert caught.value.request_id == "202606181734080102451310930F1B2D04"
    assert caught.value.transient is False
    assert len(mocked.calls) == 1


def test_an_expired_token_is_refreshed_once_and_the_call_sent_again(mocked):
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__expired_token"))
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__two_shops"))
    refreshes: list[str] = []

    def refresher() -> str:
        refreshes.append("x")
        return "ROW_refreshed_access_token_111111111111111111"

    shops = make_client(token_refresher=refresher).authorized_shops()

    assert len(shops) == 2
    assert len(refreshes) == 1
    first, second = (call.request for call in mocked.calls)
    assert first.headers["x-tts-access-token"] == TOKEN
    assert second.headers["x-tts-access-token"] == "ROW_refreshed_access_token_111111111111111111"
    assert_signed(second, path="/authorization/202309/shops")


def test_a_network_failure_becomes_a_transport_error(mocked):
    import requests

    mocked.get(SHOPS_URL, body=requests.ConnectionError("connection reset"))
    client = make_client()

    with pytest.raises(TransportError):
        client.authorized_shops()

    assert len(mocked.calls) == client.max_attempts


# --- auth host ---------------------------------------------------------------------------------------


def test_token_get_is_an_unsigned_get_on_the_auth_host(mocked):
    mocked.get(f"{AUTH}/api/v2/token/get", json=load_fixture("token_get__success"))

    data = TikTokShopClient().token_get(auth_code="TTP_scrubbed_auth_code_0000")

    assert data["open_id"] == "7010736057180325637"
    request = mocked.calls[0].request
    assert query_of(request.url) == {
        "app_key": APP_KEY,
        "app_secret": APP_SECRET,
        "auth_code": "TTP_scrubbed_auth_code_0000",
        "grant_type": "authorized_code",
    }
    assert "x-tts-access-token" not in request.headers


def test_a_refused_code_is_not_sent_twice(mocked):
    mocked.get(f"{AUTH}/api/v2/token/get", json=load_fixture("token_get__invalid_code"))

    with pytest.raises(ProviderError) as caught:
        TikTokShopClient().token_get(auth_code="used-code")

    assert caught.value.code == "36004004"
    assert caught.value.request_id == "2026061817335501023C0A8E5E7A1B2C4E"
    assert len(mocked.calls) == 1


def test_a_code_is_not_retried_even_on_a_server_error(mocked):
    mocked.get(f"{AUTH}/api/v2/token/get", status=503, body="busy")

    with pytest.raises(ProviderError):
        make_client().token_get(auth_code="code-0000000000")

    assert len(mocked.calls) == 1


def test_token_refresh_sends_the_refresh_token_and_returns_both_tokens(mocked):
    mocked.get(f"{AUTH}/api/v2/token/refresh", json=load_fixture("token_refresh__success"))

    data = TikTokShopClient().token_refresh(refresh_token="ROW_old_refresh_token_0000")

    assert data["access_token"] == "ROW_scrubbed_access_token_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
    assert data["refresh_token"] == "ROW_scrubbed_refresh_token_DDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
    assert query_of(mocked.calls[0].request.url) == {
        "app_key": APP_KEY,
        "app_secret": APP_SECRET,
        "refresh_token": "ROW_old_refresh_token_0000",
        "grant_type": "refresh_token",
    }


def test_a_refused_refresh_is_token_expired(mocked):
    mocked.get(
        f"{AUTH}/api/v2/token/refresh", json=load_fixture("token_refresh__invalid_refresh_token")
    )

    with pytest.raises(TokenExpired) as caught:
        TikTokShopClient().token_refresh(refresh_token="ROW_dead_refresh_token_0000")

    assert caught.value.code == "36004005"
    assert caught.value.request_id == "2026062517330101023C0A8E5E7A1B2C6A"
    assert len(mocked.calls) == 1


def test_a_refresh_that_fails_on_tiktoks_side_is_not_a_verdict_on_the_token(mocked):
    mocked.get(f"{AUTH}/api/v2/token/refresh", status=503, body="busy")

    with pytest.raises(ProviderError) as caught:
        TikTokShopClient().token_refresh(refresh_token="ROW_old_refresh_token_0000")

    assert not isinstance(caught.value, TokenExpired)
    assert caught.value.transient is True


# --- pagination ----------------------------------------------------------------------------------


def test_paged_follows_next_page_token_sent_percent_encoded_and_signed_raw(mocked):
    page1 = load_fixture("orders_search__page1")
    token = page1["data"]["next_page_token"]
    assert "/" in token and "+" in token
    mocked.post(f"{API}{ORDERS_SEARCH}", json=page1)
    mocked.post(f"{API}{ORDERS_SEARCH}", json=load_fixture("orders_search__page2"))

    pages = list(
        make_client().paged(
            ORDERS_SEARCH, params=None, shop_cipher=CIPHER, page_size=2, method="POST", json={}
        )
    )

    assert [[order["id"] for order in items] for items, _next in pages] == [
        ["576486316948490001", "576486316948490002"],
        ["576486316948490003"],
    ]
    assert [next_token for _items, next_token in pages] == [token, ""]
    first, second = (call.request for call in mocked.calls)
    assert "page_token" not in query_of(first.url)
    assert "%2F" in second.url and "%2B" in second.url
    assert query_of(second.url)["page_token"] == token
    assert_signed(second, path=ORDERS_SEARCH)


def test_paged_resumes_from_a_checkpointed_token(mocked):
    mocked.get(f"{API}/order/202309/orders", json=load_fixture("orders_search__page2"))

    pages = list(
        make_client().paged(
            "/order/202309/orders",
            params={},
            shop_cipher=CIPHER,
            page_size=50,
            items_key="orders",
            page_token="abc/def+",
        )
    )

    assert len(pages) == 1
    assert query_of(mocked.calls[0].request.url)["page_token"] == "abc/def+"


def test_paged_refuses_a_token_that_does_not_advance(mocked):
    stuck = {
        "code": 0,
        "message": "Success",
        "request_id": "r1",
        "data": {"next_page_token": "same", "orders": []},
    }
    mocked.get(f"{API}/order/202309/orders", json=stuck)

    with pytest.raises(ProviderError, match="same page_token"):
        list(
            make_client().paged(
                "/order/202309/orders",
                params={},
                shop_cipher=CIPHER,
                page_size=50,
                page_token="same",
            )
        )


# --- rate limit ----------------------------------------------------------------------------------


def test_rate_limit_is_50_per_second_keyed_on_app_and_seller(make_tenant):
    tenant = make_tenant()

    assert TikTokShopClient.rate_limit == (50, 1.0)
    assert TikTokShopClient(tenant=tenant).rate_key == f"{APP_KEY}:tenant-{tenant.pk}"
    assert TikTokShopClient().rate_key == f"{APP_KEY}:app"
    assert TikTokShopClient(rate_key=f"{APP_KEY}:{CIPHER}").rate_key == f"{APP_KEY}:{CIPHER}"


# --- what the call log keeps ------------------------------------------------------------------------


def test_the_call_log_keeps_no_secret_code_or_token(mocked):
    from apps.integrations.models import ApiCallLog

    mocked.get(f"{AUTH}/api/v2/token/get", json=load_fixture("token_get__invalid_code"))
    mocked.get(SHOPS_URL, json=load_fixture("authorization_shops__expired_token"))
    with pytest.raises(ProviderError):
        TikTokShopClient().token_get(auth_code="TTP_scrubbed_auth_code_0000")
    with pytest.raises(TokenExpired):
        make_client().authorized_shops()

    rows = list(ApiCallLog.objects.values())
    assert [row["path"] for row in rows] and all("?" not in row["path"] for row in rows)
    logged = repr(rows)
    for secret in (APP_SECRET, "TTP_scrubbed_auth_code_0000", TOKEN, "sign="):
        assert secret not in logged
