"""TikTok Shop returns in the sandbox: search, reject reasons, approve and reject (§3.6)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.sandbox import shop_data
from apps.sandbox import shop_ops_data as ops
from apps.sandbox.models import SandboxShopRecord

from . import test_tiktok_shop_ops as base
from .test_tiktok_shop_ops import call, orders, walk

# the shared fixtures (a frozen clock, a small world, a Shop token)
clock = base.clock
token = base.token

SEARCH = "/return_refund/202309/returns/search"
REASONS = "/return_refund/202309/reject_reasons"


@pytest.fixture
def world(settings):
    """More orders than the fulfillment tests, so several requests are pending at the grant."""
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = 1200
    shop_data.shop_orders.cache_clear()


def pending(token: str) -> list[dict]:
    return walk(
        token,
        "POST",
        SEARCH,
        "return_orders",
        {"return_status": [ops.PENDING]},
        page_size=50,
    )


@pytest.mark.parametrize("size", ["9", "51", "", "0"])
def test_search_refuses_page_sizes_outside_10_to_50(token, size):
    answer = call(token, "POST", SEARCH, {}, page_size=size)

    assert answer["code"] == 25001001
    assert "page_size" in answer["message"]


def test_search_walk_is_complete_ascending_and_deterministic(token):
    rows = walk(token, "POST", SEARCH, "return_orders", {}, page_size=10)
    again = walk(token, "POST", SEARCH, "return_orders", {}, page_size=10)

    at = shop_data.now_seconds()
    expected = ops.returns_at(orders(), {}, at)
    assert len(rows) == len(expected) > 10
    assert rows == again
    created = [(r["create_time"], r["return_id"]) for r in rows]
    assert created == sorted(created)  # ASC by default
    assert len({r["return_id"] for r in rows}) == len(rows)
    first_page = call(token, "POST", SEARCH, {}, page_size=10)["data"]
    assert first_page["total_count"] == len(expected)
    assert call(token, "POST", SEARCH, {}, page_size=10, page_token="bm9wZQ==")["code"] == 25001001


def test_a_return_carries_reason_items_amounts_and_deadline(token):
    row = pending(token)[0]
    order = call(token, "GET", "/order/202309/orders", ids=row["order_id"])["data"]["orders"][0]

    assert order["status"] in {"DELIVERED", "COMPLETED"}
    assert row["return_id"] == "46" + row["order_id"][2:]
    assert row["return_reason"] and row["return_reason_text"]
    assert row["return_type"] in {"REFUND", "RETURN_AND_REFUND"}
    order_lines = {line["id"]: line for line in order["line_items"]}
    returned = row["return_line_items"]
    assert returned and all(item["order_line_item_id"] in order_lines for item in returned)
    amount = row["refund_amount"]
    subtotal = sum(
        int(order_lines[i["order_line_item_id"]]["sale_price"].replace(".", "")) for i in returned
    )
    assert int(amount["refund_subtotal"].replace(".", "")) == subtotal
    parts = ("refund_subtotal", "refund_shipping_fee", "refund_tax")
    assert sum(int(amount[p].replace(".", "")) for p in parts) == int(
        amount["refund_total"].replace(".", "")
    )
    assert amount["currency"] == order["payment"]["currency"]
    deadline = row["seller_next_action_response"][0]["deadline"]
    assert deadline == row["create_time"] + ops.RETURN_DEADLINE_SECONDS > shop_data.now_seconds()


def test_filters(token):
    rows = walk(token, "POST", SEARCH, "return_orders", {}, page_size=50)
    one = rows[0]

    by_id = call(token, "POST", SEARCH, {"return_ids": [one["return_id"]]}, page_size=10)
    by_order = call(token, "POST", SEARCH, {"order_ids": [one["order_id"]]}, page_size=10)
    by_buyer = call(token, "POST", SEARCH, {"buyer_user_ids": [one["buyer_user_id"]]}, page_size=10)
    window = {"create_time_ge": one["create_time"], "create_time_lt": one["create_time"] + 1}
    by_time = call(token, "POST", SEARCH, window, page_size=10)

    for answer in (by_id, by_order, by_buyer, by_time):
        assert [r["return_id"] for r in answer["data"]["return_orders"]] == [one["return_id"]]
    types = call(token, "POST", SEARCH, {"return_types": ["REFUND"]}, page_size=50)
    assert {r["return_type"] for r in types["data"]["return_orders"]} == {"REFUND"}
    assert call(token, "POST", SEARCH, {"return_ids": "x"}, page_size=10)["code"] == 25001001


def test_reject_reasons(token):
    row = pending(token)[0]

    answer = call(token, "GET", REASONS, return_or_cancel_id=row["return_id"])

    assert answer["code"] == 0
    reasons = answer["data"]["reasons"]
    assert len(reasons) == len(ops.REJECT_REASONS)
    assert all(set(r) == {"name", "text"} for r in reasons)
    assert call(token, "GET", REASONS, return_or_cancel_id="46999")["code"] == 25020005


def test_approve_is_idempotent_by_key_and_reads_back(token, clock):
    row = pending(token)[0]
    path = f"/return_refund/202309/returns/{row['return_id']}/approve"
    clock["now"] += timedelta(seconds=20)
    decision = "APPROVE_REFUND" if row["return_type"] == "REFUND" else "APPROVE_RETURN"

    first_answer = call(token, "POST", path, {"decision": decision}, idempotency_key="k-1")
    again = call(token, "POST", path, {"decision": decision}, idempotency_key="k-1")
    other_key = call(token, "POST", path, {"decision": decision}, idempotency_key="k-2")

    assert first_answer["code"] == 0, first_answer
    assert again["code"] == 0 and again["data"] == first_answer["data"]
    assert other_key["code"] == 25001003
    assert SandboxShopRecord.objects.filter(kind="return_decided").count() == 1
    read = call(token, "POST", SEARCH, {"return_ids": [row["return_id"]]}, page_size=10)
    got = read["data"]["return_orders"][0]
    assert got["return_status"] == ops.APPROVED[row["return_type"]]
    assert got["update_time"] == shop_data.now_seconds()
    assert got["seller_next_action_response"] == []
    changed = call(token, "POST", SEARCH, {"update_time_ge": shop_data.now_seconds()}, page_size=10)
    assert row["return_id"] in {r["return_id"] for r in changed["data"]["return_orders"]}


def test_reject_needs_a_listed_reason(token):
    row = pending(token)[0]
    path = f"/return_refund/202309/returns/{row['return_id']}/reject"
    body = {"decision": "REJECT_REFUND", "reject_reason": "because", "comment": "no"}

    assert call(token, "POST", path, body, idempotency_key="r-1")["code"] == 25001001
    assert call(token, "POST", path, {**body, "decision": "NOPE"})["code"] == 25001001
    assert (
        call(token, "POST", path, {**body, "decision": "REJECT_RECEIVED_PACKAGE"})["code"]
        == 25001003
    )
    assert not SandboxShopRecord.objects.exists()
    reason = ops.REJECT_REASONS[2][0]
    answer = call(token, "POST", path, {**body, "reject_reason": reason}, idempotency_key="r-1")

    assert answer["code"] == 0, answer
    got = call(token, "POST", SEARCH, {"return_ids": [row["return_id"]]}, page_size=10)
    assert got["data"]["return_orders"][0]["return_status"] == ops.REJECTED
    approve = f"/return_refund/202309/returns/{row['return_id']}/approve"
    assert call(token, "POST", approve, {"decision": "APPROVE_REFUND"})["code"] == 25001003


def test_pending_requests_are_approved_by_the_platform_at_their_deadline(token, clock):
    row = pending(token)[0]
    clock["now"] += timedelta(seconds=ops.RETURN_DEADLINE_SECONDS + 1)

    got = call(token, "POST", SEARCH, {"return_ids": [row["return_id"]]}, page_size=10)

    assert got["data"]["return_orders"][0]["return_status"] == ops.APPROVED[row["return_type"]]
    assert (
        got["data"]["return_orders"][0]["update_time"]
        == row["create_time"] + ops.RETURN_DEADLINE_SECONDS
    )
    path = f"/return_refund/202309/returns/{row['return_id']}/approve"
    assert call(token, "POST", path, {"decision": "APPROVE_REFUND"})["code"] == 25001003


def test_another_shops_return_is_no_permission(token):
    from .test_tiktok_shop_ops import first, shop

    other = shop_data.orders_for(shop(1), first("tiktok_shop").account_id)
    seed = ops.return_seeds(other)[0]

    path = f"/return_refund/202309/returns/{seed.return_id}/approve"
    assert call(token, "POST", path, {"decision": "APPROVE_REFUND"})["code"] == 25020005


def test_even_a_small_shop_has_requests_awaiting_the_seller_at_the_grant(token, settings):
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = 120
    shop_data.shop_orders.cache_clear()

    rows = pending(token)

    assert len(rows) >= ops.DEMO_RETURNS
    assert all(r["seller_next_action_response"] for r in rows)


def test_partial_refund_offer_needs_an_amount(token):
    row = pending(token)[0]
    path = f"/return_refund/202309/returns/{row['return_id']}/approve"

    missing = call(token, "POST", path, {"decision": "OFFER_PARTIAL_REFUND"})
    offered = call(
        token,
        "POST",
        path,
        {
            "decision": "OFFER_PARTIAL_REFUND",
            "partial_refund": {"currency": row["refund_amount"]["currency"], "amount": "1.00"},
        },
    )

    assert missing["code"] == 25001001
    assert offered["code"] == 0
    record = SandboxShopRecord.objects.get()
    assert record.data["partial_refund"]["amount"] == "1.00"
