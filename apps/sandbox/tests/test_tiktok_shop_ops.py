"""TikTok Shop operations in the sandbox: fulfillment and logistics (contract §3.3-3.6).

Returns, customer service and finance are in ``test_tiktok_shop_ops_*.py``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.conf import settings

from apps.sandbox import generator, shop_data
from apps.sandbox import shop_ops_data as ops
from apps.sandbox.models import SandboxShopRecord
from apps.sandbox.tiktok_shop_signing import sign

from .flows import first, shop_code
from .test_tiktok_shop import token_get


@pytest.fixture
def clock(monkeypatch):
    state = {"now": datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)}
    monkeypatch.setattr(generator, "now", lambda: state["now"])
    return state


@pytest.fixture
def world(settings):
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = 400
    shop_data.shop_orders.cache_clear()


@pytest.fixture
def token(client, sandbox, world, clock) -> str:
    answer = token_get(shop_code(client))
    assert answer["code"] == 0, answer
    return answer["data"]["access_token"]


def shop(n: int = 0) -> dict:
    return generator.shops(first("tiktok_shop").account_id)[n]


def orders() -> shop_data.ShopOrders:
    return shop_data.orders_for(shop(), first("tiktok_shop").account_id)


def call(
    token: str,
    method: str,
    path: str,
    body: dict | None = None,
    *,
    spoil: bool = False,
    cipher: bool = True,
    **params,
) -> dict:
    """A signed call, as the hub's client makes it; ``spoil`` changes one character of ``sign``."""
    raw = json.dumps(body).encode() if body is not None else b""
    query = {"app_key": settings.TIKTOK_SHOP_APP_KEY, "timestamp": str(int(time.time()))}
    if cipher:
        query["shop_cipher"] = shop()["cipher"]
    query.update({k: str(v) for k, v in params.items()})
    query["sign"] = sign(
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        path=path,
        query=query,
        body=raw,
        content_type="application/json",
    )
    if spoil:
        query["sign"] = query["sign"][:-1] + ("0" if query["sign"][-1] != "0" else "1")
    headers = {"x-tts-access-token": token, "content-type": "application/json"}
    url = f"{settings.TIKTOK_SHOP_API_BASE}{path}"
    answer = requests.request(method, url, params=query, data=raw, headers=headers, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def walk(token: str, method: str, path: str, key: str, body: dict | None = None, **params):
    rows, page_token = [], ""
    while True:
        extra = {"page_token": page_token} if page_token else {}
        answer = call(token, method, path, body, **params, **extra)
        assert answer["code"] == 0, answer
        rows += answer["data"][key]
        page_token = answer["data"]["next_page_token"]
        if not page_token:
            return rows


SEARCH = "/fulfillment/202309/packages/search"


def awaiting(token: str) -> dict:
    """A package whose order awaits shipment."""
    answer = call(token, "POST", SEARCH, {"package_status": "PROCESSING"}, page_size=5)
    assert answer["code"] == 0, answer
    return answer["data"]["packages"][0]


#: One call per endpoint of this feature: (method, path, body, params); ids are filled in.
ENDPOINTS = [
    ("POST", SEARCH, {}, {"page_size": 10}),
    ("GET", "/fulfillment/202309/packages/{package}", None, {}),
    ("GET", "/fulfillment/202309/packages/{package}/shipping_documents", None, {}),
    (
        "POST",
        "/fulfillment/202309/packages/{package}/ship",
        {"handover_method": "PICKUP"},
        {},
    ),
    ("POST", "/fulfillment/202309/orders/{order}/packages", {"tracking_number": "X1"}, {}),
    ("GET", "/fulfillment/202309/orders/{order}/tracking", None, {}),
    ("GET", "/logistics/202309/warehouses/{warehouse}/delivery_options", None, {}),
    ("GET", "/logistics/202309/delivery_options/7091146663229654785/shipping_providers", None, {}),
    ("POST", "/return_refund/202309/returns/search", {}, {"page_size": 10}),
    ("GET", "/return_refund/202309/reject_reasons", None, {}),
    ("POST", "/return_refund/202309/returns/{return}/approve", {"decision": "APPROVE_REFUND"}, {}),
    ("POST", "/return_refund/202309/returns/{return}/reject", {"decision": "REJECT_REFUND"}, {}),
    ("GET", "/customer_service/202309/conversations", None, {"page_size": 20}),
    ("POST", "/customer_service/202309/conversations", {"buyer_user_id": "1"}, {}),
    ("GET", "/customer_service/202309/conversations/{conversation}/messages", None, {}),
    (
        "POST",
        "/customer_service/202309/conversations/{conversation}/messages",
        {"type": "TEXT", "content": '{"content":"hi"}'},
        {},
    ),
    ("POST", "/customer_service/202309/conversations/{conversation}/messages/read", {}, {}),
    ("GET", "/finance/202309/statements", None, {"sort_field": "statement_time"}),
    ("GET", "/finance/202309/payments", None, {"sort_field": "create_time"}),
    ("GET", "/finance/202309/statements/{statement}/statement_transactions", None, {}),
    ("GET", "/finance/202309/orders/{order}/statement_transactions", None, {}),
]


def ids() -> dict[str, str]:
    shop_orders = orders()
    state = next(s for s in shop_data.states_at(shop_orders, shop_data.now_seconds()))
    buyer = next(iter(ops.buyers(shop_orders).values()))
    return {
        "package": ops.package_id_of(state.order_id),
        "order": state.order_id,
        "warehouse": ops.order_warehouse_id(shop()["id"]),
        "return": ops.return_id_of(state.order_id),
        "conversation": buyer.conversation_id,
        "statement": "7000",
    }


@pytest.mark.parametrize(("method", "path", "body", "params"), ENDPOINTS)
def test_every_endpoint_refuses_a_signature_off_by_one_character(token, method, path, body, params):
    path = path.format(**ids())
    answer = call(token, method, path, body, spoil=True, **params)

    assert answer["code"] == 106001, answer
    assert set(answer) == {"code", "message", "request_id", "data"}
    assert not SandboxShopRecord.objects.exists()


@pytest.mark.parametrize(("method", "path", "body", "params"), ENDPOINTS)
def test_every_endpoint_requires_the_shop_cipher(token, method, path, body, params):
    answer = call(token, method, path.format(**ids()), body, cipher=False, **params)

    assert answer["code"] == 106013, answer


def test_another_shops_package_is_no_permission(token):
    """The second shop's package id, asked with the first shop's cipher."""
    other = shop_data.orders_for(shop(1), first("tiktok_shop").account_id)
    state = next(s for s in ops.packaged_states(other, shop_data.now_seconds()))
    package_id = ops.package_id_of(state.order_id)

    answer = call(token, "GET", f"/fulfillment/202309/packages/{package_id}")

    assert answer["code"] == 25020005, answer


@pytest.mark.parametrize("size", ["0", "51", "", "ten"])
def test_packages_search_refuses_bad_page_sizes(token, size):
    answer = call(token, "POST", SEARCH, {}, page_size=size)

    assert answer["code"] == 36009004
    assert "page_size" in answer["message"]


def test_packages_walk_covers_every_paid_order_once_and_is_deterministic(token):
    rows = walk(token, "POST", SEARCH, "packages", {}, page_size=50, sort_field="update_time")
    again = walk(token, "POST", SEARCH, "packages", {}, page_size=50, sort_field="update_time")

    expected = {
        ops.package_id_of(s.order_id)
        for s in shop_data.states_at(orders(), shop_data.now_seconds())
        if s.time_of("AWAITING_SHIPMENT") is not None and s.status != "CANCELLED"
    }
    assert len(rows) == len(expected) > 50
    assert {r["id"] for r in rows} == expected
    assert rows == again
    keys = [(r["update_time"], r["orders"][0]["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)
    first_page = call(token, "POST", SEARCH, {}, page_size=50)["data"]
    assert first_page["total_count"] == len(expected)


def test_packages_filter_by_status_and_update_time(token):
    now = shop_data.now_seconds()
    rows = walk(
        token,
        "POST",
        SEARCH,
        "packages",
        {"package_status": "FULFILLING", "update_time_ge": now - 5 * 86400},
        page_size=50,
    )

    assert rows
    assert all(r["status"] == "FULFILLING" and r["tracking_number"] for r in rows)
    assert all(r["update_time"] >= now - 5 * 86400 for r in rows)


def _order(token: str, order_id: str) -> dict:
    answer = call(token, "GET", "/order/202309/orders", ids=order_id)
    assert answer["code"] == 0, answer
    return answer["data"]["orders"][0]


def test_ship_with_tracking_reads_back_everywhere_and_twice_is_invalid_status(token, clock):
    package = awaiting(token)
    order_id = package["orders"][0]["id"]
    before = _order(token, order_id)
    assert before["status"] == "AWAITING_SHIPMENT"
    assert before["packages"] == [{"id": package["id"]}]
    clock["now"] += timedelta(seconds=30)
    ship = {
        "self_shipment": {
            "tracking_number": "RM123456789GB",
            "shipping_provider_id": "6617675021119438850",
        }
    }

    answer = call(token, "POST", f"/fulfillment/202309/packages/{package['id']}/ship", ship)

    assert answer == {**answer, "code": 0, "data": {}}
    now = shop_data.now_seconds()
    detail = call(token, "GET", f"/fulfillment/202309/packages/{package['id']}")["data"]
    assert detail["status"] == "FULFILLING"
    assert detail["tracking_number"] == "RM123456789GB"
    assert detail["shipping_provider_name"] == "Sandbox Post"
    order = _order(token, order_id)
    assert order["status"] == "AWAITING_COLLECTION"
    assert order["update_time"] == now > before["update_time"]
    assert order["tracking_number"] == "RM123456789GB"
    assert {line["tracking_number"] for line in order["line_items"]} == {"RM123456789GB"}
    # an incremental sync (update_time window) sees the change
    found = walk(
        token,
        "POST",
        "/order/202309/orders/search",
        "orders",
        {"update_time_ge": now},
        page_size=100,
    )
    assert order_id in {o["id"] for o in found}

    again = call(token, "POST", f"/fulfillment/202309/packages/{package['id']}/ship", ship)
    assert again["code"] == 25001003, again
    assert SandboxShopRecord.objects.filter(kind="package_shipped").count() == 1

    # the order then moves on along its timeline
    clock["now"] += timedelta(days=12)
    later = _order(token, order_id)
    assert later["status"] in {"IN_TRANSIT", "DELIVERED", "COMPLETED"}
    assert later["tracking_number"] == "RM123456789GB"
    tracking = call(token, "GET", f"/fulfillment/202309/orders/{order_id}/tracking")["data"]
    times = [e["update_time_millis"] for e in tracking["tracking"]]
    assert times == sorted(times, reverse=True)
    assert times[-1] == now * 1000


def test_ship_validation(token):
    package = awaiting(token)
    path = f"/fulfillment/202309/packages/{package['id']}/ship"
    for body in (
        {},
        {"self_shipment": {"tracking_number": "", "shipping_provider_id": "6617675021119438849"}},
        {"self_shipment": {"tracking_number": "AB1", "shipping_provider_id": "42"}},
        {"handover_method": "TELEPORT"},
    ):
        answer = call(token, "POST", path, body)
        assert answer["code"] == 36009004, (body, answer)
    assert not SandboxShopRecord.objects.exists()


def test_a_package_not_awaiting_shipment_cannot_be_shipped(token):
    delivered = next(
        s for s in shop_data.states_at(orders(), shop_data.now_seconds()) if s.status == "DELIVERED"
    )
    path = f"/fulfillment/202309/packages/{ops.package_id_of(delivered.order_id)}/ship"

    answer = call(token, "POST", path, {"handover_method": "DROP_OFF"})

    assert answer["code"] == 25001003


def test_platform_shipping_gets_a_tracking_number(token):
    package = awaiting(token)

    answer = call(
        token,
        "POST",
        f"/fulfillment/202309/packages/{package['id']}/ship",
        {"handover_method": "PICKUP"},
    )

    assert answer["code"] == 0
    detail = call(token, "GET", f"/fulfillment/202309/packages/{package['id']}")["data"]
    assert detail["tracking_number"].startswith("TT")
    assert detail["handover_method"] == "PICKUP"


def test_mark_order_shipped_without_a_package_answers_the_package_id(token):
    package = awaiting(token)
    order_id = package["orders"][0]["id"]
    path = f"/fulfillment/202309/orders/{order_id}/packages"
    body = {
        "order_line_item_ids": package["order_line_item_ids"][:1],
        "tracking_number": "1Z999AA10123456784",
        "shipping_provider_id": "6617675021119438851",
    }

    assert call(token, "POST", path, {**body, "order_line_item_ids": ["nope"]})["code"] == 36009004
    answer = call(token, "POST", path, body)

    assert answer["code"] == 0, answer
    assert answer["data"] == {"package_id": package["id"]}
    assert _order(token, order_id)["tracking_number"] == "1Z999AA10123456784"
    assert call(token, "POST", path, body)["code"] == 25001003


def test_shipping_document_is_a_pdf_label_once_shipped(token, client):
    package = awaiting(token)
    path = f"/fulfillment/202309/packages/{package['id']}/shipping_documents"
    assert call(token, "GET", path, document_type="SHIPPING_LABEL")["code"] == 25001003
    ship = {
        "self_shipment": {"tracking_number": "LBL42", "shipping_provider_id": "6617675021119438849"}
    }
    call(token, "POST", f"/fulfillment/202309/packages/{package['id']}/ship", ship)

    answer = call(token, "GET", path, document_type="SHIPPING_LABEL")

    assert answer["code"] == 0, answer
    assert answer["data"]["tracking_number"] == "LBL42"
    label = requests.get(answer["data"]["doc_url"], timeout=5)
    assert label.status_code == 200
    assert label.headers["Content-Type"] == "application/pdf"
    assert label.content.startswith(b"%PDF-1.4") and b"LBL42" in label.content
    assert call(token, "GET", path, document_type="INVOICE")["code"] == 36009004


def test_delivery_options_and_their_shipping_providers(token):
    warehouse = call(token, "GET", "/logistics/202309/warehouses")["data"]["warehouses"][0]["id"]

    options = call(token, "GET", f"/logistics/202309/warehouses/{warehouse}/delivery_options")

    assert options["code"] == 0
    names = [o["name"] for o in options["data"]["delivery_options"]]
    assert names == ["Standard shipping", "Express shipping"]
    option = options["data"]["delivery_options"][0]["id"]
    providers = call(
        token, "GET", f"/logistics/202309/delivery_options/{option}/shipping_providers"
    )
    assert [p["name"] for p in providers["data"]["shipping_providers"]] == [
        "Sandbox Express",
        "Sandbox Post",
        "Sandbox Freight",
    ]
    assert (
        call(token, "GET", "/logistics/202309/warehouses/123/delivery_options")["code"] == 25020005
    )
    assert (
        call(token, "GET", "/logistics/202309/delivery_options/9/shipping_providers")["code"]
        == 25020005
    )


def test_a_ship_in_flight_on_the_same_package_is_refused_as_retryable(token):
    """Two processes shipping one package at once: the second answers 36009003, stores nothing."""
    from django.core.cache import cache

    package = awaiting(token)
    key = f"sandbox:tiktok_shop:op:ship:{shop()['id']}:{package['id']}"
    cache.add(key, 1, timeout=30)
    ship = {"handover_method": "PICKUP"}

    answer = call(token, "POST", f"/fulfillment/202309/packages/{package['id']}/ship", ship)

    assert answer["code"] == 36009003
    assert not SandboxShopRecord.objects.exists()
    cache.delete(key)
    assert (
        call(token, "POST", f"/fulfillment/202309/packages/{package['id']}/ship", ship)["code"] == 0
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "small", "large"),
    [
        ("POST", SEARCH, {}, {"page_size": 1}, {"page_size": 50}),
        ("POST", "/return_refund/202309/returns/search", {}, {"page_size": 10}, {"page_size": 50}),
        (
            "GET",
            "/customer_service/202309/conversations",
            None,
            {"page_size": 1},
            {"page_size": 20},
        ),
        (
            "GET",
            "/finance/202309/statements",
            None,
            {"page_size": 1, "sort_field": "statement_time"},
            {"page_size": 100, "sort_field": "statement_time"},
        ),
    ],
)
def test_a_page_costs_the_same_queries_whatever_its_size(token, method, path, body, small, large):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call(token, method, path, body, **small)  # warm the per-process memos and the fault cache
    counts = []
    for params in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert call(token, method, path, body, **params)["code"] == 0
        counts.append(len(queries))

    assert counts[0] == counts[1], [q["sql"][:80] for q in queries.captured_queries]
