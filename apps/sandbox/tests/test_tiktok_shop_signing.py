"""The Shop signing algorithm against the contract's public vectors (§3.4, §3.5)."""

from __future__ import annotations

from apps.sandbox.tiktok_shop_signing import base_string, sign, verify, webhook_signature

SECRET = "e59af819cc"


def test_v1_official_doc_example():
    query = {"app_key": "29a39d", "timestamp": "1623812664"}
    path = "/authorization/202309/shops"
    assert base_string(path=path, query=query) == (
        b"/authorization/202309/shopsapp_key29a39dtimestamp1623812664"
    )
    assert sign(app_secret=SECRET, path=path, query=query) == (
        "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"
    )


def test_v3_put_with_json_body():
    query = {
        "app_key": "68xu9ks5p4i8",
        "shop_cipher": "ROW_xkMbgAAAeVAQra0eZWebFQq5aIK",
        "timestamp": "1696909648",
    }
    body = b'{"event_type":"PACKAGE_UPDATE","address":"https://partner.tiktokshop.com"}'
    signature = sign(
        app_secret=SECRET,
        path="/event/202309/webhooks",
        query=query,
        body=body,
        content_type="application/json",
    )
    assert signature == "701dd6deb2389fe4c469b89bd37fc56f96a6da6afeb4d01c9077a65169752fa7"


def test_c1_order_search_worked_example():
    query = {
        "app_key": "68xu9ks5p4i8",
        "shop_cipher": "ROW_xkMbgAAAeVAQra0eZWebFQq5aIK",
        "timestamp": "1696909648",
        "page_size": "50",
        "sort_field": "update_time",
        "sort_order": "ASC",
    }
    body = b'{"order_status":"AWAITING_SHIPMENT","update_time_ge":1696900000}'
    path = "/order/202309/orders/search"
    assert base_string(path=path, query=query, body=body, content_type="application/json") == (
        b"/order/202309/orders/searchapp_key68xu9ks5p4i8page_size50"
        b"shop_cipherROW_xkMbgAAAeVAQra0eZWebFQq5aIKsort_fieldupdate_time"
        b"sort_orderASCtimestamp1696909648"
        b'{"order_status":"AWAITING_SHIPMENT","update_time_ge":1696900000}'
    )
    assert (
        sign(app_secret=SECRET, path=path, query=query, body=body, content_type="application/json")
        == "3d5d60e0d11d5355c37d81deed6c5983ce97d970f384e02719930c2760f3e897"
    )


def test_sign_access_token_and_empty_values_are_not_signed():
    query = {"app_key": "29a39d", "timestamp": "1623812664"}
    noisy = {**query, "sign": "x", "access_token": "t", "x-tts-access-token": "t", "page_token": ""}
    path = "/authorization/202309/shops"
    assert sign(app_secret=SECRET, path=path, query=noisy) == sign(
        app_secret=SECRET, path=path, query=query
    )


def test_multipart_bodies_are_not_signed():
    query = {"app_key": "29a39d", "timestamp": "1623812664"}
    path = "/product/202309/images/upload"
    with_body = sign(
        app_secret=SECRET,
        path=path,
        query=query,
        body=b"--x--",
        content_type="multipart/form-data; boundary=x",
    )
    assert with_body == sign(app_secret=SECRET, path=path, query=query)


def test_verify_refuses_uppercase_hex():
    query = {"app_key": "29a39d", "timestamp": "1623812664"}
    path = "/authorization/202309/shops"
    good = sign(app_secret=SECRET, path=path, query=query)
    assert verify(app_secret=SECRET, path=path, query=query, signature=good)
    assert not verify(app_secret=SECRET, path=path, query=query, signature=good.upper())


def test_webhook_signature_official_vector():
    body = (
        b'{"type":1,"tts_notification_id":"7380066284010030890","shop_id":"7495540735365777507",'
        b'"timestamp":1718305585,"data":{"is_on_hold_order":true,"order_id":"576653688135258178",'
        b'"order_status":"UNPAID","update_time":1718305585}}'
    )
    assert webhook_signature(app_key="abcdef", app_secret="123", raw_body=body) == (
        "5dec0f11ec2f6783b8deee53c9ffbf8d024302f7c7e7fa55a35d17629031ac05"
    )
