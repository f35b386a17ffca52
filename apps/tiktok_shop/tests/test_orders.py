"""Parsing TikTok's order objects and writing them with their lines and history."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.integrations.testing import load_fixture
from apps.tiktok_shop.models import Order, OrderLine, OrderStatusChange, Shop, TikTokShopConnection
from apps.tiktok_shop.orders import SHOP_KEY, order_rows, orders_store

pytestmark = pytest.mark.django_db

SYNCED = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)


def order_fixture() -> dict:
    return copy.deepcopy(load_fixture("tiktok_shop", "orders_get__one")["data"]["orders"][0])


@pytest.fixture
def shop(tenant_a) -> Shop:
    connection = TikTokShopConnection.objects.create(tenant=tenant_a, access_token="ROW_t")
    return Shop.objects.create(
        tenant=tenant_a, connection=connection, shop_id="7494049642642441621", cipher="ROW_c"
    )


def rows_of(shop: Shop, *items: dict):
    for item in items:
        item[SHOP_KEY] = shop.pk
    return order_rows(connection=shop.connection, items=list(items), synced_at=SYNCED)


def test_an_order_becomes_one_row_with_amounts_times_and_the_recipient(shop):
    converted = rows_of(shop, order_fixture())

    assert converted.skipped == []
    row = converted.rows[0]
    assert row["order_id"] == "576486316948490001"
    assert row["status"] == "AWAITING_COLLECTION"
    assert row["create_time"] == datetime.fromtimestamp(1696890000, tz=UTC)
    assert row["paid_time"] == datetime.fromtimestamp(1696890300, tz=UTC)
    assert (row["currency"], row["total_amount"], row["tax"]) == (
        "USD",
        Decimal("56.67"),
        Decimal("3.98"),
    )
    assert row["recipient_name"] == "Scrubbed Name"
    assert row["recipient_postal_code"] == "78701"
    assert row["tracking_number"] == "9400100000000000000001"
    assert row["item_count"] == 3
    assert "buyer_email" not in row  # a relay address fulfillment does not need


def test_line_items_are_grouped_per_sku_with_their_quantity(shop):
    lines = {line["sku_id"]: line for line in rows_of(shop, order_fixture()).rows[0].lines}

    shirt = lines["1729592969712207012"]
    assert shirt["quantity"] == 2
    assert shirt["seller_sku"] == "TSHIRT-RED-M"
    assert shirt["sale_price"] == Decimal("17.90")  # the first unit's
    assert shirt["seller_discount"] == Decimal("2.00")  # summed over the units
    assert shirt["line_item_ids"] == ["577086512123755123", "577086512123755124"]
    assert lines["1729592969712207013"]["quantity"] == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": ""}, "no order id"),
        ({"create_time": 0}, "has no create_time"),
        ({"status": ""}, "has no status"),
        ({"id": "9" * 65}, "longer than 64"),
    ],
)
def test_unusable_orders_are_skipped_with_a_reason_that_holds_no_pii(shop, change, reason):
    item = {**order_fixture(), **change}

    converted = rows_of(shop, item)

    assert converted.rows == []
    assert reason in converted.skipped[0].reason
    assert "Scrubbed" not in converted.skipped[0].reason


def test_the_webhooks_cancel_is_the_apis_cancelled(shop):
    assert rows_of(shop, {**order_fixture(), "status": "cancel"}).rows[0]["status"] == "CANCELLED"


def test_storing_twice_updates_in_place_and_history_records_only_real_changes(shop, caplog):
    orders_store(connection=shop.connection, shop=shop, items=[order_fixture()])
    orders_store(connection=shop.connection, shop=shop, items=[order_fixture()])
    moved = {**order_fixture(), "status": "IN_TRANSIT", "update_time": 1697000000}
    orders_store(connection=shop.connection, shop=shop, items=[moved])

    order = Order.objects.get()
    assert order.status == "IN_TRANSIT"
    history = list(order.status_changes.values_list("from_status", "to_status"))
    assert history == [("", "AWAITING_COLLECTION"), ("AWAITING_COLLECTION", "IN_TRANSIT")]
    assert order.lines.count() == 2


def test_an_older_status_is_not_written_to_the_history(shop):
    newer = {**order_fixture(), "status": "IN_TRANSIT", "update_time": 1697000000}
    orders_store(connection=shop.connection, shop=shop, items=[newer])

    orders_store(connection=shop.connection, shop=shop, items=[order_fixture()])  # a stale page

    assert list(OrderStatusChange.objects.values_list("to_status", flat=True)) == ["IN_TRANSIT"]


def test_a_line_no_longer_in_the_order_is_removed(shop):
    orders_store(connection=shop.connection, shop=shop, items=[order_fixture()])
    fewer = order_fixture()
    fewer["line_items"] = fewer["line_items"][:2]

    orders_store(connection=shop.connection, shop=shop, items=[fewer])

    assert list(OrderLine.objects.values_list("seller_sku", flat=True)) == ["TSHIRT-RED-M"]


def test_nothing_of_the_recipient_is_logged(shop, caplog):
    caplog.set_level(logging.DEBUG)
    broken = {**order_fixture(), "create_time": None}

    orders_store(connection=shop.connection, shop=shop, items=[broken, order_fixture()])

    assert "skipped" in caplog.text
    for secret in ("Scrubbed Name", "Scrubbed Street", "555", "Leave at the door"):
        assert secret not in caplog.text
    assert Order.objects.get().synced_at <= timezone.now()
