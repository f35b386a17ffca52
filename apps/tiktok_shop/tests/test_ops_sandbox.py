"""Fulfillment, returns and finance end to end against the sandbox (signed calls, its data).

Acceptance 4: the Finance page's totals for a month equal the sandbox's own
settlement records summed in the test, to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import formats

from apps.integrations.models import AuditEntry, SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.sandbox import shop_ops_data
from apps.tiktok_shop import finance, fulfillment, returns
from apps.tiktok_shop.models import Order, OrderStatusChange, Package, ReturnRequest, Statement

from .conftest import sandbox_orders, sandbox_shops

pytestmark = pytest.mark.django_db


def run(connection, kind: str) -> SyncRun:
    result = sync_run_for_connection_now(connection=connection, kind=kind, trigger="manual")
    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    return result


def test_an_order_shipped_with_a_tracking_number_turns_shipped(
    few_orders, shop_connection, sandbox, owner_a
):
    run(shop_connection, "orders")
    order = (
        Order.objects.filter(status="AWAITING_SHIPMENT")
        .select_related("shop", "shop__connection")
        .order_by("pk")
        .first()
    )
    assert order is not None, "the sandbox world has no order awaiting shipment"
    providers = fulfillment.providers_refresh(shop=order.shop)
    order = fulfillment.order_packages_refresh(order=order)
    package = Package.objects.get(order=order)
    assert package.status == "PROCESSING"

    shipped = fulfillment.order_ship(
        user=owner_a,
        order=order,
        package=package,
        tracking_number="1Z999AA10123456784",
        provider_id=providers[0].provider_id,
    )

    assert shipped.status == "AWAITING_COLLECTION"
    assert shipped.tracking_number == "1Z999AA10123456784"
    package.refresh_from_db()
    assert (package.status, package.tracking_number) == ("FULFILLING", "1Z999AA10123456784")
    change = OrderStatusChange.objects.filter(order=order, kind="order").latest("changed_at")
    assert (change.to_status, change.source) == ("AWAITING_COLLECTION", "hub")
    assert AuditEntry.objects.get(action="ship").outcome == "succeeded"
    # The sandbox refuses a second ship; the hub says so and records it.
    with pytest.raises(fulfillment.ShipFailed):
        fulfillment.order_ship(
            user=owner_a, order=shipped, tracking_number="X1", provider_id=providers[0].provider_id
        )
    label = fulfillment.package_label(package=package)
    assert label.startswith("http")


def test_a_pending_return_approved_from_the_hub_is_approved_at_the_sandbox(
    few_orders, shop_connection, sandbox, owner_a
):
    run(shop_connection, "orders")
    run(shop_connection, "returns")
    pending = (
        ReturnRequest.objects.filter(status="RETURN_OR_REFUND_REQUEST_PENDING")
        .select_related("shop", "shop__connection")
        .order_by("pk")
    )
    ret = next((r for r in pending if returns.decision_for(r, approve=True)), None)
    assert ret is not None, "the sandbox world has no return awaiting the seller"
    assert ret.refund_amount is not None and ret.seller_deadline is not None
    assert ret.line_items

    fresh = returns.return_decide(user=owner_a, ret=ret, approve=True)

    assert fresh.status != "RETURN_OR_REFUND_REQUEST_PENDING"
    assert ReturnRequest.objects.get(pk=ret.pk).status == fresh.status
    assert AuditEntry.objects.get(action="return_approve").outcome == "succeeded"
    # Rejecting a decided return is refused by TikTok (the sandbox) and audited as failed.
    reasons = returns.return_reject_reasons(ret=fresh)
    assert reasons
    with pytest.raises(returns.ReturnDecisionFailed):
        ret.status = "RETURN_OR_REFUND_REQUEST_PENDING"  # what a stale page would send
        returns.return_decide(user=owner_a, ret=ret, approve=False, reject_reason=reasons[0][0])
    assert AuditEntry.objects.filter(action="return_reject", outcome="failed").count() == 1


def test_finance_totals_equal_the_sandboxs_settlement_records_to_the_cent(
    few_orders, shop_connection, sandbox, frozen_clock, owner_client
):
    run(shop_connection, "finance_statements")
    run(shop_connection, "finance_payments")
    run(shop_connection, "finance_transactions")
    at = int(frozen_clock.now().timestamp())

    # The sandbox's own records, summed here: per (month, currency) and overall per currency.
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for shop in sandbox_shops():
        for statement in shop_ops_data.statements(sandbox_orders(shop), at):
            month = datetime.fromtimestamp(statement.statement_time, UTC).strftime("%Y-%m")
            cents = statement.total("settlement")
            expected[(month, statement.currency)] += Decimal(cents) / 100
    assert expected, "the sandbox issued no statement"

    totals = finance.finance_totals(tenant=shop_connection.tenant, filters=finance.FinanceFilters())
    found: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in totals.rows:
        found[(row.period.strftime("%Y-%m"), row.currency)] += row.settlement_amount

    assert dict(found) == dict(expected)
    # The page itself, for each month: its per-currency totals are the sandbox's sums.
    for month in sorted({m for m, _ in expected}):
        first = datetime.strptime(month, "%Y-%m").date()
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        page = owner_client.get(
            reverse("tiktok_shop:finance"), {"date_from": first, "date_to": last}
        ).content.decode()
        for (m, currency), total in expected.items():
            if m == month:
                cell = f'data-currency="{currency}">\n      <th scope="row">{currency}</th>'
                assert cell in page
                row = page[page.index(cell) :]
                net = row[row.index('data-field="net">') + len('data-field="net">') :]
                assert net[: net.index("<")] == formats.localize(total.quantize(Decimal("0.01")))
    transactions = sum(
        (t.settlement_amount for t in finance.StatementTransaction.objects.all()), Decimal(0)
    )
    assert transactions == sum(s.settlement_amount for s in Statement.objects.all())
