"""TikTok Shop finance in the sandbox: statements, payments, transactions, to the cent (§3.6)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.sandbox import shop_data
from apps.sandbox import shop_ops_data as ops

from . import test_tiktok_shop_ops as base
from .test_tiktok_shop_ops import call, first, orders, walk

# the shared fixtures (a frozen clock, a small world, a Shop token)
clock = base.clock
token = base.token
world = base.world

STATEMENTS = "/finance/202309/statements"
PAYMENTS = "/finance/202309/payments"
AMOUNTS = (
    "revenue_amount",
    "fee_amount",
    "shipping_cost_amount",
    "adjustment_amount",
    "settlement_amount",
)


def transactions_path(statement_id: str) -> str:
    return f"{STATEMENTS}/{statement_id}/statement_transactions"


def statements(token: str, **params) -> list[dict]:
    return walk(token, "GET", STATEMENTS, "statements", sort_field="statement_time", **params)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (STATEMENTS, {"page_size": "101", "sort_field": "statement_time"}),
        (STATEMENTS, {"page_size": "0", "sort_field": "statement_time"}),
        (STATEMENTS, {"page_size": "10"}),
        (STATEMENTS, {"page_size": "10", "sort_field": "create_time"}),
        (PAYMENTS, {"page_size": "101", "sort_field": "create_time"}),
        (PAYMENTS, {"page_size": "10"}),
    ],
)
def test_bad_page_size_or_missing_sort_field_is_refused(token, path, params):
    answer = call(token, "GET", path, **params)

    assert answer["code"] == 36009004, answer


def test_statements_are_daily_at_midnight_utc_and_deterministic(token):
    rows = statements(token, page_size=7)
    again = statements(token, page_size=100)

    assert rows == again
    assert len(rows) > 20
    times = [r["statement_time"] for r in rows]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(t % 86400 == 0 and t <= shop_data.now_seconds() for t in times)
    assert {r["currency"] for r in rows} == {rows[0]["currency"]}
    assert {r["payment_status"] for r in rows} <= {"PAID", "PROCESSING"}
    assert rows[0]["payment_status"] == "PAID"


def _cents(text: str) -> int:
    value = Decimal(text)
    assert value == value.quantize(Decimal("0.01")) and "." in text and len(text.split(".")[1]) == 2
    return int(value * 100)


def test_statement_totals_equal_their_transactions_to_the_cent(token):
    rows = statements(token, page_size=100)

    for statement in rows[-5:]:
        lines = walk(
            token, "GET", transactions_path(statement["id"]), "statement_transactions", page_size=3
        )
        assert lines
        for name in AMOUNTS:
            assert sum(_cents(t[name]) for t in lines) == _cents(statement[name]), name
        for t in lines:
            parts = ("revenue_amount", "fee_amount", "shipping_cost_amount", "adjustment_amount")
            assert sum(_cents(t[p]) for p in parts) == _cents(t["settlement_amount"])
        parts = ("revenue_amount", "fee_amount", "shipping_cost_amount", "adjustment_amount")
        assert sum(_cents(statement[p]) for p in parts) == _cents(statement["settlement_amount"])
        assert _cents(statement["net_sales_amount"]) == _cents(statement["revenue_amount"])


def test_known_month_statements_sum_to_the_settlements(token):
    """The month before the anchor's month: all its statements exist, and add up."""
    account = first("tiktok_shop").account_id
    start, end = ops.known_month(shop_data.shop_anchor(account))
    rows = statements(token, page_size=50, statement_time_ge=start, statement_time_lt=end)

    settled = [
        s
        for s in ops.settlements(orders(), shop_data.now_seconds())
        if start <= s.statement_time < end
    ]
    assert rows and all(start <= r["statement_time"] < end for r in rows)
    assert sum(_cents(r["settlement_amount"]) for r in rows) == sum(s.settlement for s in settled)
    assert sum(_cents(r["revenue_amount"]) for r in rows) == sum(s.revenue for s in settled)


def test_payments_one_per_statement(token):
    rows = statements(token, page_size=100)
    payments = walk(token, "GET", PAYMENTS, "payments", sort_field="create_time", page_size=9)

    assert [p["id"] for p in payments] == [s["payment_id"] for s in rows]
    for payment, statement in zip(payments, rows, strict=True):
        assert payment["amount"] == {
            "value": statement["settlement_amount"],
            "currency": statement["currency"],
        }
        assert payment["status"] == statement["payment_status"]
        assert ("paid_time" in payment) == (payment["status"] == "PAID")
    paid = call(
        token,
        "GET",
        STATEMENTS,
        sort_field="statement_time",
        page_size=100,
        payment_status="PROCESSING",
    )
    assert {s["payment_status"] for s in paid["data"]["statements"]} == {"PROCESSING"}


def test_order_statement_transactions(token):
    statement = statements(token, page_size=100)[-1]
    line = call(token, "GET", transactions_path(statement["id"]), page_size=1)["data"][
        "statement_transactions"
    ][0]

    answer = call(token, "GET", f"/finance/202309/orders/{line['order_id']}/statement_transactions")

    assert answer["code"] == 0, answer
    got = answer["data"]["statement_transactions"]
    assert len(got) == 1
    assert got[0]["statement_id"] == statement["id"]
    assert {k: got[0][k] for k in AMOUNTS} == {k: line[k] for k in AMOUNTS}
    assert answer["data"]["settlement_amount"] == line["settlement_amount"]
    unpaid = next(
        s
        for s in shop_data.states_at(orders(), shop_data.now_seconds())
        if s.status == "AWAITING_SHIPMENT"
    )
    empty = call(token, "GET", f"/finance/202309/orders/{unpaid.order_id}/statement_transactions")
    assert empty["code"] == 0 and empty["data"]["statement_transactions"] == []
    assert call(token, "GET", transactions_path("7123"), page_size=10)["code"] == 25020005


def test_new_statements_appear_as_time_passes(token, clock):
    before = statements(token, page_size=100)
    clock["now"] += timedelta(days=4)
    after = statements(token, page_size=100)

    assert len(after) > len(before)
    assert after[: len(before) - 2] == [
        {**s, "payment_status": "PAID"} for s in before[: len(before) - 2]
    ]
