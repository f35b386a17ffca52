"""Fulfillment: providers, packages, shipping, labels, package webhooks, the section, bulk ship."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.integrations.models import AuditEntry
from apps.tiktok_shop import fulfillment
from apps.tiktok_shop.models import (
    Order,
    OrderStatusChange,
    Package,
    ShippingProvider,
    Shop,
    TikTokShopConnection,
)
from apps.tiktok_shop.orders import orders_store
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import drain

from .test_client import API, CIPHER, load_fixture
from .test_webhooks import post, raw

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shop_settings")]


SHOP_ID = "7494049642642441621"
ORDER = "576486316948490001"
PKG = "1153132168123859123"
GET_ORDERS = f"{API}/order/202309/orders"
GET_PACKAGE = f"{API}/fulfillment/202309/packages/{PKG}"
SHIP = f"{API}/fulfillment/202309/packages/{PKG}/ship"
WAREHOUSES = f"{API}/logistics/202309/warehouses"


@pytest.fixture
def connection(tenant_a, owner_a):
    return TikTokShopConnection.objects.create(
        tenant=tenant_a,
        access_token="ROW_token",
        refresh_token="ROW_refresh",
        granted_scopes=["seller.order.info", "seller.fulfillment.basic", "seller.logistics"],
    )


@pytest.fixture
def shop(connection, tenant_a):
    return Shop.objects.create(
        tenant=tenant_a, connection=connection, shop_id=SHOP_ID, name="Lumen US", cipher=CIPHER
    )


@pytest.fixture
def order(shop, connection):
    items = load_fixture("orders_get__awaiting_shipment")["data"]["orders"]
    orders_store(connection=connection, shop=shop, items=items)
    return Order.objects.select_related("shop", "shop__connection").get(order_id=ORDER)


def mock_providers(mocked):
    mocked.get(WAREHOUSES, json=load_fixture("warehouses__two_sales_one_return"))
    for warehouse in ("7068517275539719943", "7068517275539719942"):
        mocked.get(
            f"{API}/logistics/202309/warehouses/{warehouse}/delivery_options",
            json=load_fixture("delivery_options__two"),
        )
    mocked.get(
        f"{API}/logistics/202309/delivery_options/7091146663229654785/shipping_providers",
        json=load_fixture("shipping_providers__standard"),
    )
    mocked.get(
        f"{API}/logistics/202309/delivery_options/7091146663229654786/shipping_providers",
        json=load_fixture("shipping_providers__express"),
    )


def mock_refetch(mocked, *, shipped: bool):
    suffix = "awaiting_collection" if shipped else "awaiting_shipment"
    mocked.get(GET_ORDERS, json=load_fixture(f"orders_get__{suffix}"))
    package = "package_get__fulfilling" if shipped else "package_get__processing"
    mocked.get(GET_PACKAGE, json=load_fixture(package))


# --- providers and packages -------------------------------------------------------------------


def test_providers_come_from_sales_warehouses_through_their_delivery_options(mocked, shop):
    mock_providers(mocked)

    found = fulfillment.providers_refresh(shop=shop)

    assert [(p.name, p.provider_id) for p in found] == [
        ("FedEx", "6617675021119438851"),
        ("UPS", "6617675021119438850"),
        ("USPS", "6617675021119438849"),
    ]
    # The return warehouse is not asked; each sales warehouse and delivery option once.
    asked = [call.request.url.split("?")[0] for call in mocked.calls]
    assert not any("7068517275539719999" in url for url in asked)
    assert len(asked) == 1 + 2 + 4


def test_a_provider_is_found_by_id_or_name():
    usps = ShippingProvider(provider_id="6617675021119438849", name="USPS")
    ups = ShippingProvider(provider_id="6617675021119438850", name="UPS")

    assert fulfillment.provider_resolve([usps, ups], "usps") is usps
    assert fulfillment.provider_resolve([usps, ups], "6617675021119438850") is ups
    assert fulfillment.provider_resolve([usps, ups], "DHL") is None


def test_an_orders_packages_are_read_from_the_order(mocked, order):
    mock_refetch(mocked, shipped=False)

    fulfillment.order_packages_refresh(order=order)

    package = Package.objects.get()
    assert (package.package_id, package.order_id, package.status) == (PKG, order.pk, "PROCESSING")
    assert package.order_line_item_ids == ["577086512123755123"]
    assert package.order_ids == [ORDER]


# --- ship ---------------------------------------------------------------------------------------


def test_shipping_a_package_moves_the_order_and_its_history_from_the_answer(mocked, order, owner_a):
    mock_refetch(mocked, shipped=False)
    fulfillment.order_packages_refresh(order=order)
    mocked.reset()
    mocked.post(SHIP, json=load_fixture("package_ship__success"))
    mock_refetch(mocked, shipped=True)

    shipped = fulfillment.order_ship(
        user=owner_a,
        order=order,
        package=Package.objects.get(),
        tracking_number="9400100000000000000001",
        provider_id="6617675021119438849",
    )

    assert json.loads(mocked.calls[0].request.body) == {
        "self_shipment": {
            "tracking_number": "9400100000000000000001",
            "shipping_provider_id": "6617675021119438849",
        }
    }
    assert shipped.status == "AWAITING_COLLECTION"
    assert shipped.tracking_number == "9400100000000000000001"
    change = OrderStatusChange.objects.filter(order=order).latest("changed_at")
    assert (change.from_status, change.to_status, change.source) == (
        "AWAITING_SHIPMENT",
        "AWAITING_COLLECTION",
        "hub",
    )
    package = Package.objects.get()
    assert (package.status, package.shipping_provider_name) == ("FULFILLING", "USPS")
    entry = AuditEntry.objects.get(action="ship")
    assert (entry.user, entry.object_id, entry.outcome) == (owner_a, ORDER, "succeeded")
    assert entry.after["tracking_number"] == "9400100000000000000001"


def test_tiktoks_refusal_to_ship_is_shown_audited_and_changes_nothing(mocked, order, owner_a):
    mock_refetch(mocked, shipped=False)
    fulfillment.order_packages_refresh(order=order)
    mocked.reset()
    mocked.post(SHIP, json=load_fixture("package_ship__invalid_status"))

    with pytest.raises(fulfillment.ShipFailed, match="Invalid order status"):
        fulfillment.order_ship(
            user=owner_a,
            order=order,
            package=Package.objects.get(),
            tracking_number="T1",
            provider_id="6617675021119438849",
        )

    assert Order.objects.get(pk=order.pk).status == "AWAITING_SHIPMENT"
    assert AuditEntry.objects.get(action="ship").outcome == "failed"
    assert len(mocked.calls) == 1


def test_an_order_without_a_package_is_marked_shipped_with_all_its_line_items(
    mocked, order, owner_a
):
    mocked.post(
        f"{API}/fulfillment/202309/orders/{ORDER}/packages",
        json=load_fixture("order_mark_shipped__success"),
    )
    mock_refetch(mocked, shipped=True)

    fulfillment.order_ship(
        user=owner_a, order=order, tracking_number="T1", provider_id="6617675021119438849"
    )

    assert json.loads(mocked.calls[0].request.body)["order_line_item_ids"] == ["577086512123755123"]
    assert Package.objects.get().status == "FULFILLING"


def test_what_cannot_be_shipped_is_refused_before_calling_tiktok(mocked, order, owner_a):
    with pytest.raises(fulfillment.ShipFailed, match="tracking number"):
        fulfillment.order_ship(user=owner_a, order=order, tracking_number="", provider_id="1")
    with pytest.raises(fulfillment.ShipFailed, match="shipped by the seller"):
        fulfillment.order_ship(user=owner_a, order=order, handover_method="PICKUP")
    Order.objects.filter(pk=order.pk).update(status="DELIVERED")
    order.refresh_from_db()
    with pytest.raises(fulfillment.ShipFailed, match="nothing to ship"):
        fulfillment.order_ship(user=owner_a, order=order, tracking_number="T", provider_id="1")

    assert len(mocked.calls) == 0


def test_the_label_link_is_fetched_and_kept(mocked, order):
    mock_refetch(mocked, shipped=False)
    fulfillment.order_packages_refresh(order=order)
    mocked.get(f"{GET_PACKAGE}/shipping_documents", json=load_fixture("shipping_documents__label"))

    url = fulfillment.package_label(package=Package.objects.get())

    assert url.startswith("https://open-fs-va.tiktokshop.com/")
    assert Package.objects.get().label_url == url


# --- package webhook ---------------------------------------------------------------------------


def test_a_package_update_push_refetches_the_orders_it_names(client, mocked, order):
    mock_refetch(mocked, shipped=True)

    assert post(client, raw("webhook__package_update")).status_code == 200
    result = drain(batch_size=10)

    assert result.processed == 1
    assert WebhookEvent.objects.get().event_type == "PACKAGE_UPDATE"
    assert Order.objects.get(pk=order.pk).status == "AWAITING_COLLECTION"
    change = OrderStatusChange.objects.filter(order=order).latest("changed_at")
    assert (change.to_status, change.source) == ("AWAITING_COLLECTION", "webhook")
    assert Package.objects.get().tracking_number == "9400100000000000000001"


# --- the Fulfillment section -------------------------------------------------------------------


def section_url(order) -> str:
    return reverse("tiktok_shop:order_fulfillment", args=[order.pk])


def test_the_order_page_has_the_fulfillment_section_with_its_forms(owner_client, order):
    ShippingProvider.objects.create(
        tenant=order.tenant,
        shop=order.shop,
        provider_id="1",
        name="USPS",
        synced_at=order.synced_at,
    )
    page = owner_client.get(reverse("tiktok_shop:order", args=[order.pk])).content.decode()

    assert 'id="fulfillment"' in page
    assert "Mark as shipped" in page and "USPS" in page
    assert f'hx-post="{section_url(order)}"' in page
    assert "csrfmiddlewaretoken" in page
    assert reverse("tiktok_shop:returns") in page and reverse("tiktok_shop:finance") in page


def test_shipping_from_the_section_with_htmx_returns_the_section_shipped(
    owner_client, mocked, order
):
    mock_refetch(mocked, shipped=False)
    fulfillment.order_packages_refresh(order=order)
    provider = ShippingProvider.objects.create(
        tenant=order.tenant,
        shop=order.shop,
        provider_id="6617675021119438849",
        name="USPS",
        synced_at=order.synced_at,
    )
    mocked.reset()
    mocked.post(SHIP, json=load_fixture("package_ship__success"))
    mock_refetch(mocked, shipped=True)

    response = owner_client.post(
        section_url(order),
        {
            "action": "ship",
            "package": Package.objects.get().pk,
            "tracking_number": "9400100000000000000001",
            "provider": provider.pk,
        },
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="fulfillment"')
    assert "Shipped. TikTok now says the order is Awaiting collection." in html
    assert "9400100000000000000001" in html and 'data-status="FULFILLING"' in html


def test_a_member_may_look_but_not_ship(member_client, mocked, order):
    assert member_client.get(section_url(order)).status_code == 200
    response = member_client.post(section_url(order), {"action": "refresh"})

    assert response.status_code == 403
    assert len(mocked.calls) == 0


def test_the_forms_need_the_csrf_token(owner_a, order):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner_a)

    assert client.post(section_url(order), {"action": "refresh"}).status_code == 403


def test_another_tenants_order_is_404_for_the_section(owner_client, tenant_b):
    other = TikTokShopConnection.objects.create(tenant=tenant_b, access_token="b")
    theirs = Shop.objects.create(tenant=tenant_b, connection=other, shop_id="9", cipher="c")
    items = load_fixture("orders_get__awaiting_shipment")["data"]["orders"]
    orders_store(connection=other, shop=theirs, items=items)
    order = Order.objects.get(shop=theirs)

    assert owner_client.get(section_url(order)).status_code == 404
    assert owner_client.post(section_url(order), {"action": "refresh"}).status_code == 404


# --- bulk ship ---------------------------------------------------------------------------------


def ship_file(tmp_path: Path, lines: list[str]) -> str:
    path = tmp_path / "ship.csv"
    path.write_text("order_id,tracking_number,provider\n" + "\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def stored(mocked, order):
    """The order with its package and the shop's providers stored; other orders to mix in."""
    mock_refetch(mocked, shipped=False)
    fulfillment.order_packages_refresh(order=order)
    mock_providers(mocked)
    fulfillment.providers_refresh(shop=order.shop)
    delivered = Order.objects.get(pk=order.pk)
    delivered.pk, delivered.order_id, delivered.status = None, "576486316948490077", "DELIVERED"
    delivered.save()
    mocked.reset()
    return order


def test_a_dry_run_reports_every_row_and_changes_nothing(stored, mocked, tmp_path, tenant_a):
    path = ship_file(tmp_path, [f"{ORDER},9400100000000000000001,USPS"])
    before = (Order.objects.get(pk=stored.pk).status, AuditEntry.objects.count())
    out = io.StringIO()

    call_command("tiktok_shop_ship", path, "--dry-run", "--tenant", tenant_a.slug, stdout=out)

    assert f"line 2 {ORDER} would ship: USPS" in out.getvalue()
    assert "Done: 1 would ship, 0 skipped, 0 error (1 row(s))." in out.getvalue()
    assert (Order.objects.get(pk=stored.pk).status, AuditEntry.objects.count()) == before
    assert len(mocked.calls) == 0


def test_a_mixed_file_reports_each_row_and_bad_rows_do_not_stop_the_others(
    stored, mocked, tmp_path, tenant_a
):
    mocked.post(SHIP, json=load_fixture("package_ship__success"))
    mock_refetch(mocked, shipped=True)
    path = ship_file(
        tmp_path,
        [
            "999999999999999999,T1,USPS",  # unknown order
            f"{ORDER},9400100000000000000001,DHL",  # unknown provider
            "576486316948490077,T2,USPS",  # delivered: skipped
            f"{ORDER},9400100000000000000001,6617675021119438849",  # shipped (provider by id)
            f"{ORDER},9400100000000000000001,USPS",  # repeated
            ",T3,USPS",  # no order id
        ],
    )
    out = io.StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("tiktok_shop_ship", path, "--tenant", tenant_a.slug, stdout=out)

    text = out.getvalue()
    assert exited.value.code == 1
    assert "[1/6] line 2 999999999999999999 error: no such order in this tenant" in text
    assert f"line 3 {ORDER} error: unknown provider DHL" in text
    assert "line 4 576486316948490077 skipped: order is DELIVERED" in text
    assert f"line 5 {ORDER} shipped: USPS 9400100000000000000001" in text
    assert f"line 6 {ORDER} skipped: order already shipped from this file" in text
    assert "line 7 - error: no order_id" in text
    assert "Done: 1 shipped, 2 skipped, 3 error (6 row(s))." in text
    assert Order.objects.get(pk=stored.pk).status == "AWAITING_COLLECTION"
    assert len([c for c in mocked.calls if c.request.method == "POST"]) == 1


def test_a_file_without_the_columns_is_refused(tmp_path, tenant_a):
    from django.core.management.base import CommandError

    path = tmp_path / "bad.csv"
    path.write_text("order,tracking\n1,2\n")

    with pytest.raises(CommandError, match="provider"):
        call_command("tiktok_shop_ship", str(path), "--tenant", tenant_a.slug)


def test_without_tenant_the_only_tenant_with_a_shop_is_used_else_it_must_be_named(
    stored, tmp_path, tenant_b
):
    from django.core.management.base import CommandError

    path = ship_file(tmp_path, [f"{ORDER},9400100000000000000001,USPS"])
    out = io.StringIO()

    call_command("tiktok_shop_ship", path, "--dry-run", stdout=out)
    TikTokShopConnection.objects.create(tenant=tenant_b, access_token="b")

    assert "Dry run: checking 1 row(s) for acme" in out.getvalue()
    with pytest.raises(CommandError, match="--tenant"):
        call_command("tiktok_shop_ship", path, "--dry-run")
