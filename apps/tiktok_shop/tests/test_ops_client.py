"""Client calls of fulfillment, logistics, returns and finance: paths, signing, bodies, errors.

Every endpoint gets one test of what it sends and reads, and the whole error
table is run against every endpoint (each row of ``ERROR_TABLE``).
"""

from __future__ import annotations

import json

import pytest

from apps.integrations.http import ProviderError
from apps.tiktok_shop.client import ERROR_TABLE

from .test_client import (
    API,
    CIPHER,
    CODE_ROWS,
    assert_signed,
    load_fixture,
    make_client,
    query_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shop_settings")]


PKG = "1153132168123859123"
ORDER = "576486316948490001"
RETURN = "4035611131102306001"
STATEMENT = "7283155216810000001"


def body_of(call) -> dict:
    return json.loads(call.request.body)


# --- one test per endpoint --------------------------------------------------------------------


def test_package_get_reads_the_package(mocked):
    path = f"/fulfillment/202309/packages/{PKG}"
    mocked.get(f"{API}{path}", json=load_fixture("package_get__fulfilling"))

    package = make_client().package_get(shop_cipher=CIPHER, package_id=PKG)

    assert package["status"] == "FULFILLING"
    assert package["tracking_number"] == "9400100000000000000001"
    assert assert_signed(mocked.calls[0].request, path=path)["shop_cipher"] == CIPHER


def test_package_ship_sends_self_shipment_with_tracking_and_provider(mocked):
    path = f"/fulfillment/202309/packages/{PKG}/ship"
    mocked.post(f"{API}{path}", json=load_fixture("package_ship__success"))

    make_client().package_ship(
        shop_cipher=CIPHER,
        package_id=PKG,
        tracking_number="9400100000000000000001",
        shipping_provider_id="6617675021119438849",
    )

    request = mocked.calls[0].request
    assert body_of(mocked.calls[0]) == {
        "self_shipment": {
            "tracking_number": "9400100000000000000001",
            "shipping_provider_id": "6617675021119438849",
        }
    }
    assert_signed(request, path=path)


def test_package_ship_with_the_platforms_shipping_sends_the_handover_method_only(mocked):
    path = f"/fulfillment/202309/packages/{PKG}/ship"
    mocked.post(f"{API}{path}", json=load_fixture("package_ship__success"))

    make_client().package_ship(shop_cipher=CIPHER, package_id=PKG, handover_method="DROP_OFF")

    assert body_of(mocked.calls[0]) == {"handover_method": "DROP_OFF"}


def test_a_ship_is_not_sent_twice_after_a_server_error(mocked):
    path = f"/fulfillment/202309/packages/{PKG}/ship"
    mocked.post(f"{API}{path}", status=503, body="overloaded")

    with pytest.raises(ProviderError):
        make_client().package_ship(
            shop_cipher=CIPHER, package_id=PKG, tracking_number="T1", shipping_provider_id="1"
        )

    assert len(mocked.calls) == 1


def test_order_mark_shipped_posts_the_line_items_and_returns_the_package(mocked):
    path = f"/fulfillment/202309/orders/{ORDER}/packages"
    mocked.post(f"{API}{path}", json=load_fixture("order_mark_shipped__success"))

    data = make_client().order_mark_shipped(
        shop_cipher=CIPHER,
        order_id=ORDER,
        order_line_item_ids=["577086512123755123"],
        tracking_number="T1",
        shipping_provider_id="6617675021119438849",
    )

    assert data["package_id"] == PKG
    assert body_of(mocked.calls[0]) == {
        "order_line_item_ids": ["577086512123755123"],
        "tracking_number": "T1",
        "shipping_provider_id": "6617675021119438849",
    }
    assert_signed(mocked.calls[0].request, path=path)


def test_shipping_document_asks_for_the_label(mocked):
    path = f"/fulfillment/202309/packages/{PKG}/shipping_documents"
    mocked.get(f"{API}{path}", json=load_fixture("shipping_documents__label"))

    data = make_client().shipping_document(shop_cipher=CIPHER, package_id=PKG)

    assert data["doc_url"].startswith("https://open-fs-va.tiktokshop.com/")
    assert assert_signed(mocked.calls[0].request, path=path)["document_type"] == "SHIPPING_LABEL"


def test_delivery_options_and_shipping_providers(mocked):
    options = "/logistics/202309/warehouses/7068517275539719942/delivery_options"
    providers = "/logistics/202309/delivery_options/7091146663229654785/shipping_providers"
    mocked.get(f"{API}{options}", json=load_fixture("delivery_options__two"))
    mocked.get(f"{API}{providers}", json=load_fixture("shipping_providers__standard"))
    client = make_client()

    found = client.delivery_options(shop_cipher=CIPHER, warehouse_id="7068517275539719942")
    carriers = client.shipping_providers(
        shop_cipher=CIPHER, delivery_option_id="7091146663229654785"
    )

    assert [o["id"] for o in found] == ["7091146663229654785", "7091146663229654786"]
    assert [(p["id"], p["name"]) for p in carriers] == [
        ("6617675021119438849", "USPS"),
        ("6617675021119438850", "UPS"),
    ]
    assert_signed(mocked.calls[0].request, path=options)
    assert_signed(mocked.calls[1].request, path=providers)


def test_returns_search_pages_in_the_query_and_filters_in_the_body(mocked):
    path = "/return_refund/202309/returns/search"
    mocked.post(f"{API}{path}", json=load_fixture("returns_search__page1"))

    data = make_client().returns_search(
        shop_cipher=CIPHER, page_token="a/b+c", update_time_ge=1697000000, update_time_lt=1697100000
    )

    assert len(data["return_orders"]) == 2
    query = assert_signed(mocked.calls[0].request, path=path)
    assert query["page_size"] == "50"
    assert query["page_token"] == "a/b+c"
    assert (query["sort_field"], query["sort_order"]) == ("update_time", "ASC")
    assert body_of(mocked.calls[0]) == {"update_time_ge": 1697000000, "update_time_lt": 1697100000}


def test_returns_search_refuses_a_page_size_tiktok_refuses():
    with pytest.raises(ValueError, match="10 to 50"):
        make_client().returns_search(shop_cipher=CIPHER, page_size=5)


def test_return_approve_sends_the_decision_and_the_idempotency_key(mocked):
    path = f"/return_refund/202309/returns/{RETURN}/approve"
    mocked.post(f"{API}{path}", status=503, body="overloaded")
    mocked.post(f"{API}{path}", json=load_fixture("return_approve__success"))

    make_client().return_approve(
        shop_cipher=CIPHER, return_id=RETURN, decision="APPROVE_REFUND", idempotency_key="k1"
    )

    # The key makes the repeat harmless, so a transient failure is retried with the same key.
    assert len(mocked.calls) == 2
    for call in mocked.calls:
        assert query_of(call.request.url)["idempotency_key"] == "k1"
        assert body_of(call) == {"decision": "APPROVE_REFUND"}
    assert_signed(mocked.calls[1].request, path=path)


def test_return_reject_sends_the_reason_name_and_comment(mocked):
    path = f"/return_refund/202309/returns/{RETURN}/reject"
    mocked.post(f"{API}{path}", json=load_fixture("return_reject__success"))

    make_client().return_reject(
        shop_cipher=CIPHER,
        return_id=RETURN,
        decision="REJECT_REFUND",
        reject_reason="reverse_reject_request_reason_1",
        comment="Photos show no damage",
        idempotency_key="k2",
    )

    assert body_of(mocked.calls[0]) == {
        "decision": "REJECT_REFUND",
        "reject_reason": "reverse_reject_request_reason_1",
        "comment": "Photos show no damage",
    }
    assert assert_signed(mocked.calls[0].request, path=path)["idempotency_key"] == "k2"


def test_reject_reasons_are_asked_for_the_return(mocked):
    path = "/return_refund/202309/reject_reasons"
    mocked.get(f"{API}{path}", json=load_fixture("reject_reasons__list"))

    reasons = make_client().reject_reasons(shop_cipher=CIPHER, return_or_cancel_id=RETURN)

    assert reasons[0] == {
        "name": "reverse_reject_request_reason_1",
        "text": "The item was delivered in good condition",
    }
    assert assert_signed(mocked.calls[0].request, path=path)["return_or_cancel_id"] == RETURN


def test_statements_are_sorted_by_statement_time_within_the_window(mocked):
    path = "/finance/202309/statements"
    mocked.get(f"{API}{path}", json=load_fixture("statements__page1"))

    data = make_client().statements(
        shop_cipher=CIPHER, statement_time_ge=1696000000, statement_time_lt=1697000000
    )

    assert [s["id"] for s in data["statements"]] == ["7283155216810000001", "7283155216810000002"]
    query = assert_signed(mocked.calls[0].request, path=path)
    assert query["sort_field"] == "statement_time"
    assert (query["statement_time_ge"], query["statement_time_lt"]) == ("1696000000", "1697000000")
    assert query["page_size"] == "100"
    assert mocked.calls[0].request.body is None


def test_payments_are_sorted_by_create_time(mocked):
    path = "/finance/202309/payments"
    mocked.get(f"{API}{path}", json=load_fixture("payments__page1"))

    data = make_client().payments(shop_cipher=CIPHER, create_time_ge=1696000000)

    assert data["payments"][0]["amount"] == {"value": "105.38", "currency": "USD"}
    query = assert_signed(mocked.calls[0].request, path=path)
    assert (query["sort_field"], query["create_time_ge"]) == ("create_time", "1696000000")
    assert "create_time_lt" not in query


def test_statement_transactions_of_one_statement(mocked):
    path = f"/finance/202309/statements/{STATEMENT}/statement_transactions"
    mocked.get(f"{API}{path}", json=load_fixture("statement_transactions__page1"))

    data = make_client().statement_transactions(shop_cipher=CIPHER, statement_id=STATEMENT)

    assert len(data["statement_transactions"]) == 2
    assert assert_signed(mocked.calls[0].request, path=path)["sort_field"] == "order_create_time"


# --- every endpoint against every row of the error table ----------------------------------------

#: name -> (HTTP method, path, call)
ENDPOINTS = {
    "package_get": (
        "GET",
        f"/fulfillment/202309/packages/{PKG}",
        lambda c: c.package_get(shop_cipher=CIPHER, package_id=PKG),
    ),
    "package_ship": (
        "POST",
        f"/fulfillment/202309/packages/{PKG}/ship",
        lambda c: c.package_ship(shop_cipher=CIPHER, package_id=PKG, handover_method="PICKUP"),
    ),
    "order_mark_shipped": (
        "POST",
        f"/fulfillment/202309/orders/{ORDER}/packages",
        lambda c: c.order_mark_shipped(
            shop_cipher=CIPHER,
            order_id=ORDER,
            order_line_item_ids=["1"],
            tracking_number="T",
            shipping_provider_id="1",
        ),
    ),
    "shipping_document": (
        "GET",
        f"/fulfillment/202309/packages/{PKG}/shipping_documents",
        lambda c: c.shipping_document(shop_cipher=CIPHER, package_id=PKG),
    ),
    "delivery_options": (
        "GET",
        "/logistics/202309/warehouses/1/delivery_options",
        lambda c: c.delivery_options(shop_cipher=CIPHER, warehouse_id="1"),
    ),
    "shipping_providers": (
        "GET",
        "/logistics/202309/delivery_options/1/shipping_providers",
        lambda c: c.shipping_providers(shop_cipher=CIPHER, delivery_option_id="1"),
    ),
    "returns_search": (
        "POST",
        "/return_refund/202309/returns/search",
        lambda c: c.returns_search(shop_cipher=CIPHER),
    ),
    "return_approve": (
        "POST",
        f"/return_refund/202309/returns/{RETURN}/approve",
        lambda c: c.return_approve(
            shop_cipher=CIPHER, return_id=RETURN, decision="APPROVE_REFUND", idempotency_key="k"
        ),
    ),
    "return_reject": (
        "POST",
        f"/return_refund/202309/returns/{RETURN}/reject",
        lambda c: c.return_reject(
            shop_cipher=CIPHER,
            return_id=RETURN,
            decision="REJECT_REFUND",
            reject_reason="r",
            idempotency_key="k",
        ),
    ),
    "reject_reasons": (
        "GET",
        "/return_refund/202309/reject_reasons",
        lambda c: c.reject_reasons(shop_cipher=CIPHER, return_or_cancel_id=RETURN),
    ),
    "statements": ("GET", "/finance/202309/statements", lambda c: c.statements(shop_cipher=CIPHER)),
    "payments": ("GET", "/finance/202309/payments", lambda c: c.payments(shop_cipher=CIPHER)),
    "statement_transactions": (
        "GET",
        f"/finance/202309/statements/{STATEMENT}/statement_transactions",
        lambda c: c.statement_transactions(shop_cipher=CIPHER, statement_id=STATEMENT),
    ),
}
#: Calls whose outcome is unknown after a failure are never repeated.
NOT_REPEATED = {"package_ship", "order_mark_shipped"}


def test_the_error_matrix_uses_the_rows_of_the_table():
    # test_client.py checks that CODE_ROWS has a row for every code of the table.
    assert {row[0] for row in CODE_ROWS} <= set(ERROR_TABLE["code"])


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize(
    ("code", "fixture", "status", "error_class", "transient"),
    CODE_ROWS,
    ids=[str(row[0]) for row in CODE_ROWS],
)
def test_every_endpoint_classifies_every_error(
    mocked, endpoint, code, fixture, status, error_class, transient
):
    method, path, call = ENDPOINTS[endpoint]
    body = load_fixture(fixture)
    mocked.add(method, f"{API}{path}", status=status, json=body)
    client = make_client()

    with pytest.raises(ProviderError) as caught:
        call(client)

    error = caught.value
    assert type(error) is error_class
    assert error.code == str(code)
    assert error.request_id == body["request_id"]
    attempts = client.max_attempts if transient and endpoint not in NOT_REPEATED else 1
    assert len(mocked.calls) == attempts


def test_a_refused_return_decision_is_a_final_provider_error_with_tiktoks_words(mocked):
    path = f"/return_refund/202309/returns/{RETURN}/approve"
    mocked.post(f"{API}{path}", json=load_fixture("return_approve__invalid_status"))

    with pytest.raises(ProviderError) as caught:
        make_client().return_approve(
            shop_cipher=CIPHER, return_id=RETURN, decision="APPROVE_REFUND", idempotency_key="k"
        )

    assert caught.value.code == "25001003"
    assert "Invalid order status" in caught.value.message
    assert caught.value.transient is False
    assert len(mocked.calls) == 1
