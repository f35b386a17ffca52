"""Request and webhook signatures against every vector in contract §3.4 and §3.5."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode

import pytest

from apps.tiktok_shop.signing import sign, string_to_sign, verify_webhook, webhook_signature

SECRET = "e59af819cc"
CIPHER = "ROW_xkMbgAAAeVAQra0eZWebFQq5aIK"


# --- request signing: the contract's vectors, byte for byte ---------------------------------


def test_v1_official_doc_example_with_its_intermediate_strings():
    params = {"app_key": "29a39d", "timestamp": "1623812664"}

    base = string_to_sign(path="/authorization/202309/shops", params=params, body=None)
    signature = sign(
        path="/authorization/202309/shops", params=params, body=None, app_secret=SECRET
    )

    assert base == b"/authorization/202309/shopsapp_key29a39dtimestamp1623812664"
    wrapped = SECRET.encode() + base + SECRET.encode()
    assert (
        wrapped
        == b"e59af819cc/authorization/202309/shopsapp_key29a39dtimestamp1623812664e59af819cc"
    )
    assert signature == "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"


def test_v3_skit_put_with_json_body_and_shop_cipher():
    params = {"app_key": "68xu9ks5p4i8", "shop_cipher": CIPHER, "timestamp": "1696909648"}
    body = b'{"event_type":"PACKAGE_UPDATE","address":"https://partner.tiktokshop.com"}'

    signature = sign(
        path="/event/202309/webhooks",
        params=params,
        body=body,
        app_secret=SECRET,
        content_type="application/json",
    )

    assert signature == "701dd6deb2389fe4c469b89bd37fc56f96a6da6afeb4d01c9077a65169752fa7"


def test_c1_orders_search_with_query_filters_and_body():
    params = {
        "app_key": "68xu9ks5p4i8",
        "shop_cipher": CIPHER,
        "timestamp": "1696909648",
        "page_size": "50",
        "sort_field": "update_time",
        "sort_order": "ASC",
    }
    body = b'{"order_status":"AWAITING_SHIPMENT","update_time_ge":1696900000}'

    base = string_to_sign(path="/order/202309/orders/search", params=params, body=body)
    signature = sign(
        path="/order/202309/orders/search", params=params, body=body, app_secret=SECRET
    )

    assert base == (
        b"/order/202309/orders/searchapp_key68xu9ks5p4i8page_size50shop_cipher"
        b"ROW_xkMbgAAAeVAQra0eZWebFQq5aIKsort_fieldupdate_timesort_orderASCtimestamp1696909648"
        b'{"order_status":"AWAITING_SHIPMENT","update_time_ge":1696900000}'
    )
    assert signature == "3d5d60e0d11d5355c37d81deed6c5983ce97d970f384e02719930c2760f3e897"


def test_a_str_body_signs_like_its_utf8_bytes():
    body = '{"event_type":"PACKAGE_UPDATE","address":"https://partner.tiktokshop.com"}'
    params = {"app_key": "68xu9ks5p4i8", "shop_cipher": CIPHER, "timestamp": "1696909648"}

    signature = sign(path="/event/202309/webhooks", params=params, body=body, app_secret=SECRET)

    assert signature == "701dd6deb2389fe4c469b89bd37fc56f96a6da6afeb4d01c9077a65169752fa7"


# --- request signing: the rules around the vectors ------------------------------------------


def test_sign_access_token_and_stray_header_param_are_left_out():
    params = {"app_key": "29a39d", "timestamp": "1623812664"}
    noisy = {
        **params,
        "sign": "stale",
        "access_token": "TTP_secret",
        "x-tts-access-token": "TTP_secret",
    }

    assert sign(path="/authorization/202309/shops", params=noisy, body=None, app_secret=SECRET) == (
        "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"
    )


def test_parameter_order_does_not_matter():
    forward = {"app_key": "29a39d", "timestamp": "1623812664"}
    backward = {"timestamp": "1623812664", "app_key": "29a39d"}

    assert sign(
        path="/authorization/202309/shops", params=forward, body=None, app_secret=SECRET
    ) == sign(path="/authorization/202309/shops", params=backward, body=None, app_secret=SECRET)


def test_keys_sort_in_byte_order():
    base = string_to_sign(path="/p", params={"b": "2", "B": "3", "a_b": "4", "a": "1"}, body=None)

    assert base == b"/pB3a1a_b4b2"


def test_the_signature_is_lowercase_hex():
    signature = sign(path="/x", params={"app_key": "k", "timestamp": "1"}, body=b"", app_secret="s")

    assert signature == signature.lower()
    assert len(signature) == 64
    int(signature, 16)


def test_page_tokens_with_slash_and_plus_are_signed_raw_not_percent_encoded():
    token = "b2Zmc2V0PTEwMA==/aGVsbG8+d29ybGQ/+end"
    params = {"app_key": "68xu9ks5p4i8", "timestamp": "1696909648", "page_token": token}

    base = string_to_sign(path="/order/202309/orders/search", params=params, body=None)
    signature = sign(
        path="/order/202309/orders/search", params=params, body=None, app_secret=SECRET
    )

    assert f"page_token{token}".encode() in base
    assert b"%2F" not in base
    assert b"%2B" not in base
    assert "%2F" in urlencode({"page_token": token})  # the wire form differs from the signed one
    expected_base = (
        f"/order/202309/orders/searchapp_key68xu9ks5p4i8page_token{token}timestamp1696909648"
    ).encode()
    assert base == expected_base
    wrapped = SECRET.encode() + expected_base + SECRET.encode()
    assert signature == hmac.new(SECRET.encode(), wrapped, hashlib.sha256).hexdigest()
    encoded = {**params, "page_token": quote(token, safe="")}
    assert (
        sign(path="/order/202309/orders/search", params=encoded, body=None, app_secret=SECRET)
        != signature
    )


def test_multipart_bodies_are_not_signed():
    params = {"app_key": "68xu9ks5p4i8", "timestamp": "1696909648"}
    path = "/product/202309/images/upload"

    with_body = sign(
        path=path,
        params=params,
        body=b"--boundary\r\nbinary image\r\n--boundary--",
        app_secret=SECRET,
        content_type="multipart/form-data; boundary=boundary",
    )
    without_body = sign(path=path, params=params, body=None, app_secret=SECRET)

    assert with_body == without_body


def test_an_empty_body_adds_nothing():
    params = {"app_key": "29a39d", "timestamp": "1623812664"}

    assert sign(path="/authorization/202309/shops", params=params, body=b"", app_secret=SECRET) == (
        "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"
    )


def test_empty_values_are_left_out_and_lists_are_comma_joined():
    base = string_to_sign(
        path="/order/202309/orders",
        params={"ids": ["1", "2"], "page_token": "", "app_key": "k"},
        body=None,
    )

    assert base == b"/order/202309/ordersapp_keykids1,2"


# --- webhooks (§3.5) ------------------------------------------------------------------------

WEBHOOK_TYPE_1 = (
    b'{"type":1,"tts_notification_id":"7380066284010030890","shop_id":"7495540735365777507",'
    b'"timestamp":1718305585,"data":{"is_on_hold_order":true,"order_id":"576653688135258178",'
    b'"order_status":"UNPAID","update_time":1718305585}}'
)
WEBHOOK_TYPE_12 = (
    b'{"type":12,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621",'
    b'"timestamp":1644412885,"data":{"order_id":"576486316948490001","return_role":"BUYER",'
    b'"return_type":"REFUND","return_status":"RETURN_OR_REFUND_REQUEST_PENDING",'
    b'"return_id":"576486316948490001","create_time":1627587600,"update_time":1644412885}}'
)


@pytest.mark.parametrize(
    ("raw_body", "expected"),
    [
        (WEBHOOK_TYPE_1, "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05"),
        (WEBHOOK_TYPE_12, "995d1c18f5b3e4c6949b4b2016c523fcec79465c6781d590a073ed7e5b53a70f"),
    ],
    ids=["official_type_1", "computed_type_12"],
)
def test_webhook_vectors(raw_body, expected):
    assert webhook_signature(app_key="abcdef", app_secret="123", raw_body=raw_body) == expected
    assert verify_webhook(
        app_key="abcdef", app_secret="123", raw_body=raw_body, authorization=expected
    )


def test_webhook_refuses_a_wrong_signature_a_changed_body_and_a_wrong_key():
    good = "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05"

    assert not verify_webhook(
        app_key="abcdef", app_secret="123", raw_body=WEBHOOK_TYPE_1, authorization="0" * 64
    )
    assert not verify_webhook(
        app_key="abcdef",
        app_secret="123",
        raw_body=WEBHOOK_TYPE_1.replace(b"UNPAID", b"PAID"),
        authorization=good,
    )
    assert not verify_webhook(
        app_key="other", app_secret="123", raw_body=WEBHOOK_TYPE_1, authorization=good
    )


def test_webhook_hashes_raw_bytes_not_reserialised_json():
    good = "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05"
    spaced = WEBHOOK_TYPE_1.replace(b'"type":1,', b'"type": 1, ')

    assert not verify_webhook(
        app_key="abcdef", app_secret="123", raw_body=spaced, authorization=good
    )


@pytest.mark.parametrize(
    ("app_key", "app_secret", "authorization"),
    [("abcdef", "", "x"), ("", "123", "x"), ("abcdef", "123", "")],
    ids=["no_secret", "no_key", "no_header"],
)
def test_webhook_without_credentials_or_header_never_verifies(app_key, app_secret, authorization):
    assert not verify_webhook(
        app_key=app_key, app_secret=app_secret, raw_body=WEBHOOK_TYPE_1, authorization=authorization
    )
