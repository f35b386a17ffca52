"""Pushing a catalog item to TikTok Shop: create, full replace, refusals, review over time."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
import responses
from django.conf import settings
from django.urls import reverse

from apps.catalog.channels import PushFailed, PushRefused
from apps.catalog.models import CatalogItem, Listing, PushResult, ReviewStatus
from apps.integrations.models import AuditEntry, ConnectionStatus, SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.sandbox.views.tiktok_shop_products import solid_png
from apps.tiktok_shop import products
from apps.tiktok_shop.models import Shop

from .test_products_sync import CIPHER, SHOP_ID, fixture, make_shop

pytestmark = pytest.mark.django_db

API = settings.TIKTOK_SHOP_API_BASE
CREATE_URL = f"{API}/product/202309/products"
EDIT_URL = f"{API}/product/202309/products/1729592969712207008"
UPLOAD_URL = f"{API}/product/202309/images/upload"
WAREHOUSES_URL = f"{API}/logistics/202309/warehouses"
IMAGE_URL = "https://cdn.example/mug.png"
W1, W2 = "7068517275539719942", "7068517275539719943"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def tiktok():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def shop(tenant_a) -> Shop:
    return make_shop(tenant_a)


def make_item(tenant, sku: str = "MUG-BLK", **fields) -> CatalogItem:
    defaults = {
        "title": "Ceramic mug <black>",
        "description": "Holds 350 ml.\nDishwasher safe.\n\nMade in Portugal.",
        "price": Decimal("12.90"),
        "currency": "USD",
        "stock": 40,
        "images": [IMAGE_URL],
        "category_mapping": {"tiktok_shop": "600001"},
        "weight_kg": Decimal("0.450"),
    }
    return CatalogItem.objects.create(tenant=tenant, sku=sku, **{**defaults, **fields})


def answer_images(mock) -> None:
    mock.get(IMAGE_URL, body=solid_png("mug"), content_type="image/png")
    mock.post(UPLOAD_URL, json=fixture("images_upload__success"))


def sent_json(mock, url: str, method: str = "POST") -> dict:
    call = next(
        c for c in mock.calls if c.request.method == method and c.request.url.split("?")[0] == url
    )
    return json.loads(call.request.body)


def test_a_new_item_is_created_with_its_fields_mapped(tiktok, shop, owner_a):
    item = make_item(shop.tenant)
    tiktok.get(WAREHOUSES_URL, json=fixture("warehouses__two_sales_one_return"))
    answer_images(tiktok)
    tiktok.post(CREATE_URL, json=fixture("products_create__success_with_warning"))

    outcome = products.push_catalog_item(item=item, account_ref=SHOP_ID, user=owner_a)

    body = sent_json(tiktok, CREATE_URL)
    assert body["title"] == "Ceramic mug <black>"
    assert body["description"] == (
        "<p>Holds 350 ml.<br>Dishwasher safe.</p><p>Made in Portugal.</p>"
    )
    assert body["category_id"] == "600001"
    assert body["main_images"] == [{"uri": "tos-maliva-i-o3syd03w52-us/c668cdf70b7f483c94dbe"}]
    assert body["skus"] == [
        {
            "seller_sku": "MUG-BLK",
            "price": {"amount": "12.90", "currency": "USD"},
            "inventory": [{"warehouse_id": W1, "quantity": 40}],  # the default sales warehouse
            "sales_attributes": [],
        }
    ]
    assert body["package_weight"] == {"value": "0.45", "unit": "KILOGRAM"}
    assert body["save_mode"] == "LISTING"
    assert len(body["idempotency_key"]) == 32
    create = next(c.request for c in tiktok.calls if c.request.url.startswith(CREATE_URL))
    assert f"shop_cipher={CIPHER}" in create.url and "sign=" in create.url
    upload = next(c.request for c in tiktok.calls if c.request.url.startswith(UPLOAD_URL))
    assert "shop_cipher" not in upload.url  # TikTok refuses a cipher on uploads
    assert upload.headers["Content-Type"].startswith("multipart/form-data")

    assert outcome.action == "created"
    assert outcome.external_product_id == "1729592969712208000"
    assert outcome.warnings and "Brand does not exist" in outcome.warnings[0]
    listing = Listing.objects.get(external_sku_id="1729592969712208001")
    assert listing.catalog_item == item
    assert (listing.account_ref, listing.external_product_id) == (SHOP_ID, "1729592969712208000")
    assert listing.review_status == ReviewStatus.PENDING
    assert (listing.pushed_stock, listing.channel_stock) == (40, 40)
    assert listing.last_push_result == PushResult.CREATED
    assert listing.extra == {"inventory": [{"warehouse_id": W1, "quantity": 40}]}
    audit = AuditEntry.objects.get()
    assert (audit.product, audit.action, audit.object_id, audit.outcome) == (
        "tiktok_shop",
        "product_create",
        "MUG-BLK",
        "succeeded",
    )
    assert audit.user == owner_a and audit.after["product_id"] == "1729592969712208000"


def listed(item: CatalogItem, shop: Shop, inventory: list[dict]) -> Listing:
    return Listing.objects.create(
        tenant=item.tenant,
        channel="tiktok_shop",
        account_ref=shop.shop_id,
        external_product_id="1729592969712207008",
        external_sku_id="1729592969712207012",
        seller_sku=item.sku,
        catalog_item=item,
        review_status=ReviewStatus.APPROVED,
        extra={"inventory": inventory},
    )


def test_a_listed_item_replaces_its_product_with_every_warehouse(tiktok, shop, owner_a):
    item = make_item(shop.tenant, stock=12)
    listing = listed(
        item,
        shop,
        [{"warehouse_id": W1, "quantity": 3}, {"warehouse_id": W2, "quantity": 9}],
    )
    answer_images(tiktok)
    tiktok.put(EDIT_URL, json=fixture("product_edit__success"))

    outcome = products.push_catalog_item(item=item, account_ref=SHOP_ID, user=owner_a)

    body = sent_json(tiktok, EDIT_URL, method="PUT")
    assert body["skus"][0]["id"] == "1729592969712207012"
    assert body["skus"][0]["inventory"] == [
        {"warehouse_id": W1, "quantity": 12},
        {"warehouse_id": W2, "quantity": 0},
    ]
    assert "idempotency_key" not in body and "save_mode" not in body
    assert not [c for c in tiktok.calls if c.request.url.startswith(WAREHOUSES_URL)]
    assert outcome.action == "updated"
    listing.refresh_from_db()
    assert listing.last_push_result == PushResult.UPDATED
    assert listing.review_status == ReviewStatus.PENDING  # TikTok reviews an edit again
    assert listing.pushed_stock == 12
    assert AuditEntry.objects.get().action == "product_edit"


def test_local_problems_are_all_listed_and_nothing_is_sent(tiktok, tenant_a):
    make_shop(tenant_a)
    item = make_item(
        tenant_a,
        images=[],
        category_mapping={},
        weight_kg=None,
        currency="BRL",
        stock=0,
    )

    with pytest.raises(PushRefused) as refused:
        products.push_catalog_item(item=item, account_ref=SHOP_ID, user=None)

    details = " | ".join(refused.value.details)
    assert "No TikTok Shop category" in details
    assert "No image" in details
    assert "No package weight" in details
    assert "The price is in BRL but shop Acme US sells in USD." in details
    assert "stock of at least 1" in details
    assert len(refused.value.details) == 5
    assert len(tiktok.calls) == 0
    assert not AuditEntry.objects.exists()


def test_tiktoks_validation_error_is_shown_audited_and_creates_nothing(tiktok, shop, owner_a):
    item = make_item(shop.tenant, category_mapping={"tiktok_shop": "999999"})
    tiktok.get(WAREHOUSES_URL, json=fixture("warehouses__two_sales_one_return"))
    answer_images(tiktok)
    tiktok.post(CREATE_URL, json=fixture("products_create__invalid_category"))

    with pytest.raises(PushFailed) as failed:
        products.push_catalog_item(item=item, account_ref=SHOP_ID, user=owner_a)

    assert str(failed.value) == (
        "TikTok Shop refused the product: Invalid parameter: category_id 999999 is not a "
        "leaf category."
    )
    assert len([c for c in tiktok.calls if c.request.url.startswith(CREATE_URL)]) == 1
    assert not Listing.objects.exists()
    audit = AuditEntry.objects.get()
    assert audit.outcome == "failed" and "12052700" in audit.error


def test_a_create_that_failed_on_tiktoks_side_is_retried_with_the_same_key(tiktok, shop):
    item = make_item(shop.tenant)
    tiktok.get(WAREHOUSES_URL, json=fixture("warehouses__two_sales_one_return"))
    answer_images(tiktok)
    tiktok.post(
        CREATE_URL,
        json={"code": 36009003, "message": "Internal error", "request_id": "r1", "data": {}},
    )
    tiktok.post(CREATE_URL, json=fixture("products_create__success_with_warning"))

    outcome = products.push_catalog_item(item=item, account_ref=SHOP_ID, user=None)

    creates = [c.request for c in tiktok.calls if c.request.url.split("?")[0] == CREATE_URL]
    assert len(creates) == 2
    keys = {json.loads(c.body)["idempotency_key"] for c in creates}
    assert len(keys) == 1
    assert outcome.action == "created"


def test_a_product_with_other_skus_is_not_replaced(tiktok, shop):
    item = make_item(shop.tenant)
    listed(item, shop, [])
    Listing.objects.create(
        tenant=shop.tenant,
        channel="tiktok_shop",
        account_ref=shop.shop_id,
        external_product_id="1729592969712207008",
        external_sku_id="1729592969712207013",
        seller_sku="MUG-WHT",
    )

    with pytest.raises(PushRefused, match="other SKUs"):
        products.push_catalog_item(item=item, account_ref=SHOP_ID, user=None)
    assert len(tiktok.calls) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example/mug.png",
        "https://localhost/mug.png",
        "https://10.0.0.7/mug.png",
        "https://169.254.169.254/latest/meta-data",
    ],
)
def test_images_are_fetched_only_from_public_https_hosts(tiktok, shop, url):
    item = make_item(shop.tenant, images=[url])
    tiktok.get(WAREHOUSES_URL, json=fixture("warehouses__two_sales_one_return"))

    with pytest.raises(PushRefused) as refused:
        products.push_catalog_item(item=item, account_ref=SHOP_ID, user=None)

    assert "image" in str(refused.value).lower()
    assert not [c for c in tiktok.calls if c.request.url.startswith(("http://cdn", "https://1"))]
    assert not [c for c in tiktok.calls if c.request.url.startswith(CREATE_URL)]


def test_an_image_that_is_not_a_picture_is_refused(tiktok, shop):
    item = make_item(shop.tenant)
    tiktok.get(WAREHOUSES_URL, json=fixture("warehouses__two_sales_one_return"))
    tiktok.get(IMAGE_URL, body="<html>", content_type="text/html")

    with pytest.raises(PushRefused) as refused:
        products.push_catalog_item(item=item, account_ref=SHOP_ID, user=None)

    assert "not a JPEG or PNG" in " ".join(refused.value.details)


def test_without_the_logistics_scope_a_synced_warehouse_is_used(tiktok, shop):
    item = make_item(shop.tenant)
    Listing.objects.create(
        tenant=shop.tenant,
        channel="tiktok_shop",
        account_ref=shop.shop_id,
        external_product_id="p-other",
        external_sku_id="s-other",
        extra={"inventory": [{"warehouse_id": W2, "quantity": 1}]},
    )
    tiktok.get(WAREHOUSES_URL, json=fixture("inventory_update__scope_missing"))
    answer_images(tiktok)
    tiktok.post(CREATE_URL, json=fixture("products_create__success_with_warning"))

    products.push_catalog_item(item=item, account_ref=SHOP_ID, user=None)

    assert sent_json(tiktok, CREATE_URL)["skus"][0]["inventory"] == [
        {"warehouse_id": W2, "quantity": 40}
    ]


def test_a_disconnected_shop_is_refused(tiktok, shop):
    shop.connection.status = ConnectionStatus.DISCONNECTED
    shop.connection.save()

    with pytest.raises(PushRefused, match="disconnected"):
        products.push_catalog_item(item=make_item(shop.tenant), account_ref=SHOP_ID, user=None)
    assert len(tiktok.calls) == 0


def test_the_transport_never_reaches_the_network(tiktok, shop):
    """Guard: ``responses`` refuses anything not registered (no test reaches the network)."""
    with pytest.raises(requests.ConnectionError):
        requests.get("https://cdn.example/not-registered.png", timeout=1)


# --- through the Products page and the sandbox --------------------------------------------------


def sandbox_shop(connection) -> Shop:
    return Shop.objects.filter(connection=connection).order_by("shop_id").first()


def demo_item(shop: Shop, sku: str, title: str, **fields) -> CatalogItem:
    from apps.sandbox.views.tiktok_shop_products import REGION_CURRENCY

    return make_item(
        shop.tenant,
        sku=sku,
        title=title,
        currency=REGION_CURRENCY[shop.region],
        images=[f"{settings.SANDBOX_BASE_URL}/tiktok-shop/cdn/{sku.lower()}.png"],
        **fields,
    )


def publish(client, item: CatalogItem, shop: Shop) -> str:
    response = client.post(
        reverse("catalog:item_push", args=[item.pk]),
        {"account": f"tiktok_shop:{shop.shop_id}"},
        headers=HTMX,
    )
    assert response.status_code == 200
    return response.content.decode()


def sync_products(connection) -> SyncRun:
    run = sync_run_for_connection_now(
        connection=connection, kind="products", trigger=SyncRun.Trigger.MANUAL
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return run


def test_published_from_the_page_in_review_then_approved_over_time(
    owner_client, shop_connection, sandbox, frozen_clock, settings
):
    settings.SANDBOX_SHOP_REVIEW_SECONDS = 60
    shop = sandbox_shop(shop_connection)
    item = demo_item(shop, "DEMO-NEW-1", "Stoneware teapot")

    html = publish(owner_client, item, shop)

    assert "sent as a new product" in html and "In review" in html
    listing = Listing.objects.get(catalog_item=item)
    assert listing.review_status == ReviewStatus.PENDING
    assert sandbox.calls("/product/202309/images/upload") == 1

    sync_products(shop_connection)
    listing.refresh_from_db()
    assert listing.review_status == ReviewStatus.PENDING

    frozen_clock(61)
    sync_products(shop_connection)
    listing.refresh_from_db()
    assert (listing.review_status, listing.status) == (ReviewStatus.APPROVED, "ACTIVATE")
    assert Listing.objects.filter(catalog_item=item).count() == 1


def test_a_replica_is_rejected_with_the_reason_after_review(
    owner_client, shop_connection, sandbox, frozen_clock
):
    shop = sandbox_shop(shop_connection)
    item = demo_item(shop, "DEMO-REPLICA", "Replica designer handbag")
    publish(owner_client, item, shop)

    frozen_clock(3600)
    sync_products(shop_connection)

    listing = Listing.objects.get(catalog_item=item)
    assert listing.review_status == ReviewStatus.REJECTED
    assert listing.review_reasons == [
        "Counterfeit or replica goods are prohibited. — Remove the product or list an "
        "authentic item with proof of authenticity."
    ]
    page = owner_client.get("/catalog/", {"review": "rejected"}).content.decode()
    assert "Counterfeit or replica goods are prohibited." in page


def test_the_sandbox_refuses_an_unknown_category_and_the_page_says_why(
    owner_client, shop_connection, sandbox
):
    shop = sandbox_shop(shop_connection)
    item = demo_item(shop, "DEMO-BAD", "Teapot", category_mapping={"tiktok_shop": "123"})

    html = publish(owner_client, item, shop)

    assert "TikTok Shop refused the product: Invalid parameter: category_id 123" in html
    assert not Listing.objects.filter(catalog_item=item).exists()


def test_updating_a_listed_item_through_the_sandbox_sends_it_back_to_review(
    owner_client, shop_connection, sandbox, frozen_clock
):
    shop = sandbox_shop(shop_connection)
    item = demo_item(shop, "DEMO-NEW-2", "Beeswax candles")
    publish(owner_client, item, shop)
    frozen_clock(3600)
    sync_products(shop_connection)
    assert Listing.objects.get(catalog_item=item).review_status == ReviewStatus.APPROVED

    item.title = "Beeswax candles, set of three"
    item.save()
    html = publish(owner_client, item, shop)

    assert "updated" in html
    frozen_clock(10)
    sync_products(shop_connection)
    listing = Listing.objects.get(catalog_item=item)
    assert (listing.review_status, listing.title) == (
        ReviewStatus.PENDING,
        "Beeswax candles, set of three",
    )
