"""TikTok Shop: consent and its fixed redirect, GET token calls, signed Open API calls."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import requests
from django.conf import settings

from apps.sandbox import grants
from apps.sandbox.models import SandboxGrant
from apps.sandbox.tiktok_shop_signing import sign

from .flows import HUB_CALLBACK, callback_base, callback_params, first, sandbox_path, shop_code

SHOPS_PATH = "/authorization/202309/shops"


def authorize_url(**params: str) -> str:
    query = {"service_id": settings.TIKTOK_SHOP_SERVICE_ID, **params}
    return f"{sandbox_path(settings.TIKTOK_SHOP_AUTHORIZE_URL)}?{urlencode(query)}"


def token_get(code: str) -> dict:
    params = {
        "app_key": settings.TIKTOK_SHOP_APP_KEY,
        "app_secret": settings.TIKTOK_SHOP_APP_SECRET,
        "auth_code": code,
        "grant_type": "authorized_code",
    }
    url = f"{settings.TIKTOK_SHOP_AUTH_BASE}/api/v2/token/get"
    return requests.get(url, params=params, timeout=5).json()


def token_refresh(refresh_token: str) -> dict:
    params = {
        "app_key": settings.TIKTOK_SHOP_APP_KEY,
        "app_secret": settings.TIKTOK_SHOP_APP_SECRET,
        "refresh_token": refresh_token,
        "grant_type": "refresh_token",
    }
    url = f"{settings.TIKTOK_SHOP_AUTH_BASE}/api/v2/token/refresh"
    return requests.get(url, params=params, timeout=5).json()


def signed_get(
    path: str, token: str | None, *, timestamp: int | None = None, **extra
) -> requests.Response:
    query = {
        "app_key": settings.TIKTOK_SHOP_APP_KEY,
        "timestamp": str(timestamp or int(time.time())),
        **extra,
    }
    if "sign" not in query:
        query["sign"] = sign(app_secret=settings.TIKTOK_SHOP_APP_SECRET, path=path, query=query)
    headers = {"content-type": "application/json"}
    if token:
        headers["x-tts-access-token"] = token
    return requests.get(
        f"{settings.TIKTOK_SHOP_API_BASE}{path}", params=query, headers=headers, timeout=5
    )


@pytest.fixture
def tokens(client, sandbox) -> dict:
    answer = token_get(shop_code(client))
    assert answer["code"] == 0, answer
    return answer["data"]


def test_consent_redirects_to_the_fixed_callback_with_code_and_state(client, db):
    got = client.post(
        authorize_url(state="abc"),
        {"decision": "authorize", "account_id": first("tiktok_shop").account_id},
    )
    assert callback_base(got) == HUB_CALLBACK
    params = callback_params(got)
    assert params["state"] == "abc"
    assert params["code"]


def test_deny_answers_code_null_and_auth_denied(client, db):
    params = callback_params(client.post(authorize_url(state="abc"), {"decision": "deny"}))
    assert params == {"code": "null", "error": "auth_denied", "state": "abc"}


def test_app_store_authorization_carries_no_state(client, db):
    page = client.get(authorize_url(state="abc"))
    assert b"Authorize from the Seller Center app store" in page.content
    form = {"decision": "app_store", "account_id": first("tiktok_shop").account_id}
    params = callback_params(client.post(authorize_url(state="abc"), form))
    assert "state" not in params
    assert params["code"]


def test_unknown_service_id_is_refused(client, db):
    assert (
        client.get(f"{sandbox_path(settings.TIKTOK_SHOP_AUTHORIZE_URL)}?service_id=1").status_code
        == 400
    )


def test_token_answer_has_absolute_expiries_and_the_seller(tokens):
    now = time.time()
    assert tokens["access_token"].startswith("ROW_")
    assert abs(tokens["access_token_expire_in"] - (now + 900)) < 60
    assert abs(tokens["refresh_token_expire_in"] - (now + 30 * 86400)) < 60
    assert tokens["open_id"]
    assert tokens["seller_name"] == first("tiktok_shop").name
    assert tokens["user_type"] == 0
    assert "seller.authorization.info" in tokens["granted_scopes"]


def test_auth_code_is_single_use(client, sandbox):
    code = shop_code(client)
    assert token_get(code)["code"] == 0
    assert token_get(code)["code"] == 36004004


def test_signed_shops_call_lists_two_shops(tokens):
    answer = signed_get(SHOPS_PATH, tokens["access_token"]).json()
    assert answer["code"] == 0, answer
    shops = answer["data"]["shops"]
    assert len(shops) == 2
    for shop in shops:
        assert set(shop) == {"id", "name", "region", "seller_type", "cipher", "code"}
        assert shop["cipher"].startswith("ROW_")


def test_wrong_signature_is_106001(tokens):
    answer = signed_get(SHOPS_PATH, tokens["access_token"], sign="0" * 64).json()
    assert answer["code"] == 106001


def test_uppercase_signature_is_refused(tokens):
    query = {"app_key": settings.TIKTOK_SHOP_APP_KEY, "timestamp": str(int(time.time()))}
    upper = sign(app_secret=settings.TIKTOK_SHOP_APP_SECRET, path=SHOPS_PATH, query=query).upper()
    answer = signed_get(
        SHOPS_PATH, tokens["access_token"], timestamp=int(query["timestamp"]), sign=upper
    ).json()
    assert answer["code"] == 106001


def test_signature_over_another_path_is_refused(tokens):
    query = {"app_key": settings.TIKTOK_SHOP_APP_KEY, "timestamp": str(int(time.time()))}
    other = sign(
        app_secret=settings.TIKTOK_SHOP_APP_SECRET, path="/seller/202309/shops", query=query
    )
    answer = signed_get(
        SHOPS_PATH, tokens["access_token"], timestamp=int(query["timestamp"]), sign=other
    ).json()
    assert answer["code"] == 106001


@pytest.mark.parametrize("offset", [-301, 31])
def test_timestamp_outside_the_window_is_36009004(tokens, offset):
    answer = signed_get(
        SHOPS_PATH, tokens["access_token"], timestamp=int(time.time()) + offset
    ).json()
    assert answer["code"] == 36009004


def test_timestamp_at_the_window_edges_is_accepted(tokens):
    assert (
        signed_get(SHOPS_PATH, tokens["access_token"], timestamp=int(time.time()) - 290).json()[
            "code"
        ]
        == 0
    )
    assert (
        signed_get(SHOPS_PATH, tokens["access_token"], timestamp=int(time.time()) + 25).json()[
            "code"
        ]
        == 0
    )


def test_missing_token_and_unexpected_shop_cipher_are_36009004(tokens):
    assert signed_get(SHOPS_PATH, None).json()["code"] == 36009004
    answer = signed_get(SHOPS_PATH, tokens["access_token"], shop_cipher="ROW_x").json()
    assert answer["code"] == 36009004
    assert "shop_cipher" in answer["message"]


def test_expired_token_is_105002_and_refresh_gives_a_working_one(tokens):
    grants.expire_access(SandboxGrant.objects.get(access_token=tokens["access_token"]))
    assert signed_get(SHOPS_PATH, tokens["access_token"]).json()["code"] == 105002

    refreshed = token_refresh(tokens["refresh_token"])
    assert refreshed["code"] == 0, refreshed
    fresh = refreshed["data"]
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["refresh_token"] == tokens["refresh_token"]
    assert fresh["refresh_token_expire_in"] == tokens["refresh_token_expire_in"]
    assert signed_get(SHOPS_PATH, fresh["access_token"]).json()["code"] == 0
    # The carried-over refresh token stays spendable on the newest grant.
    assert token_refresh(fresh["refresh_token"])["code"] == 0


def test_unknown_refresh_token_is_refused(sandbox):
    assert token_refresh("ROW_nope")["code"] == 36004005


def test_missing_scope_is_105005(client, sandbox, settings):
    settings.SANDBOX_TIKTOK_SHOP_GRANTED_SCOPES = ["seller.order.info"]
    answer = token_get(shop_code(client))
    assert signed_get(SHOPS_PATH, answer["data"]["access_token"]).json()["code"] == 105005
