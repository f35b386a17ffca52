"""Acceptance 2 (fulfillment, returns, finance): in the sandbox, through a real browser.

Ship an order with a tracking number and see it shipped; approve a return;
open the Finance page and read the totals of a known month, which must equal
the sandbox's own settlement records summed here. The sandbox answers over
HTTP on the live server; the test does the worker's job for the syncs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import formats
from playwright.sync_api import expect

from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.sandbox import generator, shop_data, shop_ops_data
from apps.tiktok_shop.models import Order, ReturnRequest, TikTokShopConnection

from .test_connect_browser import sandbox_on_live_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS_PER_SHOP = 120


@pytest.fixture
def small_shops(settings):
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = ORDERS_PER_SHOP
    shop_data.shop_orders.cache_clear()


def sync(connection, *kinds: str) -> None:
    for kind in kinds:
        run = sync_run_for_connection_now(connection=connection, kind=kind, trigger="manual")
        assert run.status == SyncRun.Status.SUCCEEDED, (kind, run.error)


def connect(page) -> TikTokShopConnection:
    page.goto("/integrations/?tab=tiktok")
    card = page.locator("#card-tiktok_shop")
    card.get_by_role("button", name="Connect").click()
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url("**/integrations/?tab=tiktok")
    expect(page.get_by_text("TikTok Shop connected.")).to_be_visible()
    SyncRun.objects.filter(status=SyncRun.Status.QUEUED).delete()  # the worker's job, done below
    connection = TikTokShopConnection.objects.get()
    sync(connection, "orders", "returns", "finance_statements", "finance_transactions")
    return connection


def test_ship_an_order_approve_a_return_and_read_a_known_months_finance(
    page,
    log_in,
    owner_a,
    small_shops,
    sandbox_on_live_server,  # noqa: F811
):
    log_in("owner@acme.example")
    connect(page)

    # --- ship an order with a tracking number --------------------------------------------------
    page.goto("/integrations/?tab=tiktok")
    page.locator("#card-tiktok_shop").get_by_role("link", name="Open the Orders page").click()
    page.get_by_label("Status").select_option("AWAITING_SHIPMENT")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr.order-row").first).to_have_attribute("data-status", "AWAITING_SHIPMENT")
    link = page.locator("tr.order-row th a").first
    order_id = link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r".*/integrations/tiktok-shop/orders/\d+/.*"))
    section = page.locator("#fulfillment")
    section.get_by_role("button", name="Fetch packages and shipping providers").click()
    expect(page.locator("#fulfillment")).to_contain_text("Packages and shipping providers fetched")
    section = page.locator("#fulfillment")
    expect(section.locator("tr.package-row")).to_have_attribute("data-status", "PROCESSING")
    section.get_by_role("textbox", name="Tracking number").fill("1Z999AA10123456784")
    section.get_by_role("combobox", name="Shipping provider").select_option(label="Sandbox Express")
    section.get_by_role("button", name="Mark as shipped").click()
    section = page.locator("#fulfillment")
    expect(section).to_contain_text("Shipped. TikTok now says the order is Awaiting collection.")
    expect(section.locator("tr.package-row")).to_have_attribute("data-status", "FULFILLING")
    expect(section.locator("code.tracking")).to_have_text("1Z999AA10123456784")
    page.reload()
    expect(page.locator("dl.order-facts dd").first).to_have_text("Awaiting collection")
    assert Order.objects.get(order_id=order_id).status == "AWAITING_COLLECTION"

    # --- approve a return ------------------------------------------------------------------------
    page.get_by_role("link", name="Returns", exact=True).click()
    page.wait_for_url("**/integrations/tiktok-shop/returns/")
    page.get_by_label("Status").select_option("RETURN_OR_REFUND_REQUEST_PENDING")
    page.get_by_role("button", name="Filter").click()
    row = page.locator("tr.return-row").first
    expect(row).to_have_attribute("data-status", "RETURN_OR_REFUND_REQUEST_PENDING")
    return_id = row.locator("th a").inner_text()
    row.locator("th a").click()
    page.wait_for_url(re.compile(r".*/integrations/tiktok-shop/returns/\d+/"))
    expect(page.get_by_role("heading", name=f"Return {return_id}")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    decision = page.locator("#return-decision")
    expect(decision).to_contain_text("Return approved.")
    expect(decision.locator("li.audit-entry")).to_contain_text("owner@acme.example")
    approved = ReturnRequest.objects.get(return_id=return_id)
    assert approved.status != "RETURN_OR_REFUND_REQUEST_PENDING"
    expect(decision.locator(".return-status-now")).to_have_attribute("data-status", approved.status)

    # --- the Finance page for a known month ------------------------------------------------------
    seller = generator.identities("tiktok_shop")[0].account_id
    expected: dict[str, Decimal] = defaultdict(Decimal)
    month_start = month_end = None
    now = int(generator.now().timestamp())
    for shop in generator.shops(seller):
        orders = shop_data.orders_for(shop, seller)
        month_start, month_end = shop_ops_data.known_month(orders.anchor)
        for statement in shop_ops_data.statements(orders, now):
            if month_start <= statement.statement_time < month_end:
                expected[statement.currency] += Decimal(statement.total("settlement")) / 100
    assert expected, "the sandbox issued no statement in the known month"
    first = datetime.fromtimestamp(month_start, UTC).date()
    last = datetime.fromtimestamp(month_end - 1, UTC).date()

    page.get_by_role("link", name="Finance", exact=True).click()
    page.wait_for_url("**/integrations/tiktok-shop/finance/")
    page.get_by_label("From").fill(first.isoformat())
    page.get_by_label("to", exact=True).fill(last.isoformat())
    page.get_by_role("button", name="Show").click()
    table = page.locator("#finance-table")
    expect(table.locator("tr.finance-row").first).to_have_attribute(
        "data-period", first.strftime("%Y-%m")
    )
    for currency, total in expected.items():
        cell = table.locator(f"tr.currency-total[data-currency='{currency}'] td[data-field='net']")
        expect(cell).to_have_text(formats.localize(total.quantize(Decimal("0.01"))))
    expect(table.get_by_role("link", name="Export CSV")).to_be_visible()
