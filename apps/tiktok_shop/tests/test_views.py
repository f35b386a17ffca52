"""The Shop card, the Orders page and one order: content, access, and a fixed query budget."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.integrations.models import SyncRun
from apps.tiktok_shop.models import Order, OrderLine, OrderStatusChange, Shop, TikTokShopConnection

pytestmark = pytest.mark.django_db

ORDERS_URL = "/integrations/tiktok-shop/"
BASE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def connection(tenant_a, owner_a):
    return TikTokShopConnection.objects.create(
        tenant=tenant_a,
        access_token="ROW_token",
        refresh_token="ROW_refresh",
        display_name="Lumen Home Goods",
        granted_scopes=["seller.authorization.info", "seller.order.info"],
        scope_packs=["shop_orders"],
    )


@pytest.fixture
def shops(connection, tenant_a):
    return [
        Shop.objects.create(
            tenant=tenant_a,
            connection=connection,
            shop_id=f"74940496426424416{n}",
            name=f"Lumen {region}",
            region=region,
            seller_type="CROSS_BORDER",
            cipher=f"ROW_cipher_{n}",
        )
        for n, region in ((1, "GB"), (2, "MY"))
    ]


def make_orders(tenant, shop, count: int, *, status="AWAITING_SHIPMENT", start=0) -> list[Order]:
    orders = []
    for n in range(start, start + count):
        created = BASE + timedelta(hours=n)
        order = Order.objects.create(
            tenant=tenant,
            shop=shop,
            order_id=f"5764863169484{n:05d}",
            status=status,
            create_time=created,
            update_time=created + timedelta(minutes=5),
            currency="GBP",
            total_amount=Decimal("24.89"),
            item_count=2,
            recipient_name="Scrubbed Name",
            recipient_address="1 Scrubbed Street, London",
            recipient_phone="(+44)7*****01",
            synced_at=created,
        )
        OrderLine.objects.create(
            tenant=tenant,
            order=order,
            sku_id=f"17295929697122{n:05d}",
            seller_sku=f"MUG-{n}",
            product_name="Ceramic mug",
            quantity=2,
            sale_price=Decimal("9.95"),
            currency="GBP",
            synced_at=created,
        )
        OrderStatusChange.objects.create(
            tenant=tenant,
            order=order,
            to_status=status,
            changed_at=created,
            source="sync",
        )
        orders.append(order)
    return orders


# --- the card ----------------------------------------------------------------------------------


def test_the_card_lists_the_shops_with_region_orders_synced_and_the_last_orders_run(
    owner_client, tenant_a, connection, shops
):
    make_orders(tenant_a, shops[0], 3)
    SyncRun.objects.create(
        tenant=tenant_a,
        product="tiktok_shop",
        connection_id=connection.pk,
        kind="orders",
        trigger="schedule",
        status="succeeded",
        stats={"fetched": 120, "created": 3, "updated": 117, "skipped": 0, "errors": 0},
        finished_at=BASE,
    )

    page = owner_client.get("/integrations/?tab=tiktok").content.decode()

    card = page[page.index('id="card-tiktok_shop"') :]
    assert "Lumen GB" in card and "Lumen MY" in card
    assert "GB · CROSS_BORDER · 3 orders synced" in card
    assert "MY · CROSS_BORDER · 0 orders synced" in card
    assert "new 3, updated 117" in card
    assert re.search(r"Orders:\s+granted", card)
    assert reverse("tiktok_shop:orders") in card
    assert "Sync now" in card


def test_the_card_costs_the_same_queries_with_one_shop_or_many(
    owner_client, tenant_a, connection, shops, django_assert_max_num_queries
):
    def card_queries() -> int:
        from django.db import connection as db
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(db) as captured:
            assert owner_client.get("/integrations/tiktok_shop/card/").status_code == 200
        return len(captured)

    make_orders(tenant_a, shops[0], 2)
    few = card_queries()
    for n in range(3, 23):
        Shop.objects.create(
            tenant=tenant_a, connection=connection, shop_id=f"8{n}", name=f"S{n}", cipher="c"
        )
    make_orders(tenant_a, shops[1], 30, start=10)

    assert card_queries() == few


# --- orders -------------------------------------------------------------------------------------


def test_the_orders_page_lists_newest_first_and_members_may_look(member_client, tenant_a, shops):
    make_orders(tenant_a, shops[0], 3)

    page = member_client.get(ORDERS_URL).content.decode()

    assert page.index("576486316948400002") < page.index("576486316948400000")
    assert "Awaiting shipment" in page
    assert "24.89 GBP" in page
    assert "Page 1 of 1 (3 orders)" in page


def test_orders_filter_by_status_and_creation_date(owner_client, tenant_a, shops):
    make_orders(tenant_a, shops[0], 3, status="AWAITING_SHIPMENT")
    make_orders(tenant_a, shops[1], 2, status="COMPLETED", start=48)  # two days later

    by_status = owner_client.get(ORDERS_URL, {"status": "COMPLETED"}).content.decode()
    by_date = owner_client.get(
        ORDERS_URL, {"date_from": "2026-06-03", "date_to": "2026-06-03"}
    ).content.decode()
    by_shop = owner_client.get(ORDERS_URL, {"shop": shops[0].pk}).content.decode()

    assert "(2 orders)" in by_status and "576486316948400000" not in by_status
    assert "(2 orders)" in by_date and "576486316948400048" in by_date
    assert "(3 orders)" in by_shop


def test_a_reversed_date_range_is_an_error_and_shows_everything(owner_client, tenant_a, shops):
    make_orders(tenant_a, shops[0], 2)

    page = owner_client.get(ORDERS_URL, {"date_from": "2026-06-05", "date_to": "2026-06-01"})

    assert "The start date must be on or before the end date." in page.content.decode()
    assert "(2 orders)" in page.content.decode()


def test_orders_are_paginated_and_htmx_gets_only_the_table(owner_client, tenant_a, shops):
    make_orders(tenant_a, shops[0], 60)

    second = owner_client.get(ORDERS_URL, {"page": 2}).content.decode()
    partial = owner_client.get(
        ORDERS_URL, {"page": 2}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="orders-table"
    ).content.decode()

    assert "Page 2 of 2 (60 orders)" in second
    assert second.count('class="order-row"') == 10
    assert partial.lstrip().startswith('<section id="orders-table"')
    assert "<html" not in partial


def test_the_orders_page_costs_the_same_queries_for_few_or_many_orders(
    owner_client, tenant_a, shops
):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(db) as captured:
            assert owner_client.get(ORDERS_URL).status_code == 200
        return len(captured)

    make_orders(tenant_a, shops[0], 1)
    one = queries()
    make_orders(tenant_a, shops[1], 80, start=5)

    assert queries() == one


def test_another_tenants_orders_are_not_listed(owner_client, tenant_a, tenant_b, shops):
    other = TikTokShopConnection.objects.create(tenant=tenant_b, access_token="b")
    theirs = Shop.objects.create(tenant=tenant_b, connection=other, shop_id="9", cipher="c")
    make_orders(tenant_b, theirs, 2, start=90)

    page = owner_client.get(ORDERS_URL).content.decode()

    assert "576486316948400090" not in page


# --- one order -----------------------------------------------------------------------------------


def test_an_order_shows_its_lines_recipient_and_history_in_three_queries(
    owner_client, tenant_a, shops, django_assert_max_num_queries
):
    order = make_orders(tenant_a, shops[0], 1)[0]
    OrderStatusChange.objects.create(
        tenant=tenant_a,
        order=order,
        from_status="AWAITING_SHIPMENT",
        to_status="IN_TRANSIT",
        changed_at=BASE + timedelta(days=1),
        source="webhook",
    )
    OrderStatusChange.objects.create(
        tenant=tenant_a,
        order=order,
        kind="return",
        to_status="RETURN_OR_REFUND_REQUEST_PENDING",
        changed_at=BASE + timedelta(days=2),
        source="webhook",
        detail={"return_type": "REFUND"},
    )
    url = reverse("tiktok_shop:order", args=[order.pk])

    # session, user, memberships, then the order, its lines, its history, and the
    # Fulfillment section: packages, shipping providers, settlement lines
    with django_assert_max_num_queries(9):
        page = owner_client.get(url).content.decode()

    assert "MUG-0" in page and "Ceramic mug" in page
    assert "1 Scrubbed Street, London" in page
    assert "AWAITING_SHIPMENT → <strong>IN_TRANSIT</strong>" in page
    assert "Return: <strong>RETURN_OR_REFUND_REQUEST_PENDING</strong> (REFUND)" in page


def test_another_tenants_order_is_404(owner_client, tenant_b):
    other = TikTokShopConnection.objects.create(tenant=tenant_b, access_token="b")
    theirs = Shop.objects.create(tenant=tenant_b, connection=other, shop_id="9", cipher="c")
    order = make_orders(tenant_b, theirs, 1)[0]

    assert owner_client.get(reverse("tiktok_shop:order", args=[order.pk])).status_code == 404


def test_the_pages_need_a_login(client):
    assert client.get(ORDERS_URL).status_code == 302
