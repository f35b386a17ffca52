"""Acceptance 2: the sandbox refuses a signature off by one character, and the client says so.

The requests go through the real client and the in-process sandbox; only the
signature is spoiled, by one character, after it was computed correctly.
"""

from __future__ import annotations

import time

import pytest
import requests
from django.conf import settings

from apps.sandbox.tiktok_shop_signing import sign as sandbox_sign
from apps.tiktok_shop import client as client_module
from apps.tiktok_shop.client import InvalidSignature
from apps.tiktok_shop.models import Shop
from apps.tiktok_shop.services import client_for

pytestmark = pytest.mark.django_db

SHOPS_PATH = "/authorization/202309/shops"
SEARCH_PATH = "/order/202309/orders/search"


def off_by_one(signature: str) -> str:
    """The same signature with its last hex digit changed."""
    last = signature[-1]
    return signature[:-1] + ("0" if last != "0" else "1")


def signed_request(token: str, *, path: str, method: str = "GET", body: bytes = b"", **extra):
    query = {"app_key": settings.TIKTOK_SHOP_APP_KEY, "timestamp": str(int(time.time())), **extra}
    query["sign"] = sandbox_sign(
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        path=path,
        query=query,
        body=body,
        content_type="application/json",
    )
    return query, {"x-tts-access-token": token, "content-type": "application/json"}


def test_the_sandbox_accepts_the_right_signature_and_refuses_one_off_by_one_character(
    shop_connection, sandbox
):
    token = shop_connection.access_token.reveal()
    url = f"{settings.TIKTOK_SHOP_API_BASE}{SHOPS_PATH}"
    query, headers = signed_request(token, path=SHOPS_PATH)

    good = requests.get(url, params=query, headers=headers, timeout=5).json()
    bad = requests.get(
        url, params={**query, "sign": off_by_one(query["sign"])}, headers=headers, timeout=5
    ).json()

    assert good["code"] == 0
    assert bad["code"] == 106001
    assert "sign is invalid" in bad["message"]
    assert bad["data"] == {}


def test_the_sandbox_refuses_a_body_changed_after_signing(shop_connection, sandbox):
    shop = Shop.objects.order_by("shop_id").first()
    token = shop_connection.access_token.reveal()
    body = b'{"update_time_ge":1696900000}'
    query, headers = signed_request(
        token, path=SEARCH_PATH, body=body, shop_cipher=shop.cipher, page_size="10"
    )
    url = f"{settings.TIKTOK_SHOP_API_BASE}{SEARCH_PATH}"

    good = requests.post(url, params=query, data=body, headers=headers, timeout=5).json()
    bad = requests.post(
        url, params=query, data=body.replace(b"1696", b"1697"), headers=headers, timeout=5
    ).json()

    assert good["code"] == 0 and good["data"]["orders"]
    assert bad["code"] == 106001


def test_the_clients_typed_error_says_the_signature_was_refused(
    shop_connection, sandbox, monkeypatch
):
    real_sign = client_module.sign
    monkeypatch.setattr(client_module, "sign", lambda **kw: off_by_one(real_sign(**kw)))

    with client_for(shop_connection) as client, pytest.raises(InvalidSignature) as caught:
        client.authorized_shops()

    error = caught.value
    assert error.code == "106001"
    assert "sign" in str(error).lower()
    assert error.transient is False
    # Refused once, not retried: the same request would be signed the same way.
    assert sandbox.calls(SHOPS_PATH) == 2  # the connect's discovery, then this one


def test_a_missing_signature_is_also_a_signature_error(shop_connection, sandbox, monkeypatch):
    monkeypatch.setattr(client_module, "sign", lambda **kw: "")

    with client_for(shop_connection) as client, pytest.raises(InvalidSignature) as caught:
        client.authorized_shops()

    assert caught.value.code == "36009004"
    assert "sign" in str(caught.value).lower()
