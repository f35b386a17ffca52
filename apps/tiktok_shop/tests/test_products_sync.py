"""The ``products`` sync kind: pages of products -> one listing per SKU, matched by seller SKU.

Fixtures are real-shaped answers of ``POST /product/202309/products/search``
and ``GET /product/202309/products/{id}`` (``tests/fixtures/products_*``).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
import responses
from django.conf import settings
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import CatalogItem, Listing, ReviewStatus
from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_kinds, sync_run_for_connection_now
from apps.integrations.testing import load_fixture
from apps.tiktok_shop import products
from apps.tiktok_shop.models import Shop, TikTokShopConnection

pytestmark = pytest.mark.django_db

API = settings.TIKTOK_SHOP_API_BASE
SEARCH_URL = f"{API}/product/202309/products/search"
DETAIL_URL = f"{API}/product/202309/products/1729592969712207100"
SHOP_ID = "7495540735365777507"
CIPHER = "ROW_xkMbgAAAeVAQra0eZWebFQq5aIK"
#: Statements that are not the page's database work: the in-process sandbox, the database
#: cache, savepoints, and the API call log (one row per call, not per record).
NOT_THE_HUBS = ("sandbox_", "hub_cache", "SAVEPOINT", "integrations_apicalllog")


def fixture(name: str) -> dict:
    return load_fixture("tiktok_shop", name)


def make_shop(tenant, *, shop_id: str = SHOP_ID, region: str = "US") -> Shop:
    connection, _ = TikTokShopConnection.objects.get_or_create(
        tenant=tenant, defaults={"access_token": "shop-token", "refresh_token": "refresh"}
    )
    return Shop.objects.create(
        tenant=tenant,
        connection=connection,
        shop_id=shop_id,
        name=f"Acme {region}",
        region=region,
        seller_type="LOCAL",
        cipher=CIPHER if shop_id == SHOP_ID else f"ROW_{shop_id}",
    )


def run_products(connection) -> SyncRun:
    return sync_run_for_connection_now(
        connection=connection, kind="products", trigger=SyncRun.Trigger.MANUAL
    )


@pytest.fixture
def tiktok():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def shop(tenant_a) -> Shop:
    return make_shop(tenant_a)


def two_pages(mock) -> None:
    mock.post(SEARCH_URL, json=fixture("products_search__page1"))
    mock.post(SEARCH_URL, json=fixture("products_search__page2"))
    mock.get(DETAIL_URL, json=fixture("product_get__rejected"))


def listing(sku_id: str) -> Listing:
    return Listing.objects.get(external_sku_id=sku_id)


def test_the_kind_is_registered_incremental_and_scheduled():
    kind = sync_kinds.get("tiktok_shop", "products")
    assert kind.model == "catalog.Listing"
    assert kind.unique_fields == ("tenant", "channel", "account_ref", "external_sku_id")
    assert kind.incremental and kind.schedule_minutes == 60


def test_every_sku_of_every_page_becomes_a_listing(tiktok, shop):
    two_pages(tiktok)

    run = run_products(shop.connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.stats == {"fetched": 6, "created": 6, "updated": 0, "skipped": 0, "errors": 0}
    mug = listing("1729592969712207012")
    assert (mug.channel, mug.account_ref) == ("tiktok_shop", SHOP_ID)
    assert mug.external_product_id == "1729592969712207008"
    assert (mug.seller_sku, mug.title, mug.status) == ("MUG-BLK", "Ceramic Mug", "ACTIVATE")
    assert (mug.price, mug.currency, mug.channel_stock) == (Decimal("12.90"), "USD", 40)
    assert mug.extra == {"inventory": [{"warehouse_id": "7068517275539719942", "quantity": 40}]}
    assert mug.external_updated_at.timestamp() == 1781600000
    lantern = listing("1729592969712207301")
    assert lantern.channel_stock == 25  # the sum of its two warehouses
    assert len(lantern.extra["inventory"]) == 2


def test_the_second_page_is_asked_with_the_first_pages_token_signed_raw(tiktok, shop):
    two_pages(tiktok)

    run_products(shop.connection)

    searches = [c.request for c in tiktok.calls if c.request.url.startswith(SEARCH_URL)]
    assert len(searches) == 2
    assert "page_token" not in searches[0].url
    assert "page_token=b2Zmc2V0PTMK%2B%2Fc2hvcA%3D%3D" in searches[1].url
    assert "shop_cipher=" + CIPHER in searches[0].url
    assert "page_size=100" in searches[0].url
    assert json.loads(searches[0].body) == {}  # the first run has no lower bound


def test_review_status_and_reasons_come_from_status_audit_and_the_detail(tiktok, shop):
    two_pages(tiktok)

    run_products(shop.connection)

    assert listing("1729592969712207012").review_status == ReviewStatus.APPROVED
    rejected = listing("1729592969712207101")
    assert rejected.review_status == ReviewStatus.REJECTED
    assert rejected.review_reasons == [
        "Counterfeit or replica goods are prohibited. — Remove the product or list an "
        "authentic item with proof of authenticity."
    ]
    pending = listing("1729592969712207201")
    assert (pending.review_status, pending.review_reasons) == (
        ReviewStatus.PENDING,
        ["KYC_PENDING"],
    )
    assert (
        listing("1729592969712207301").review_status == ReviewStatus.APPROVED
    )  # seller deactivated
    assert listing("1729592969712207401").review_status == ReviewStatus.SUSPENDED


@pytest.mark.parametrize(
    ("product", "expected"),
    [
        ({"status": "DRAFT"}, ReviewStatus.DRAFT),
        ({"status": "PENDING"}, ReviewStatus.PENDING),
        ({"status": "FAILED"}, ReviewStatus.REJECTED),
        ({"status": "ACTIVATE"}, ReviewStatus.APPROVED),
        ({"status": "SELLER_DEACTIVATED"}, ReviewStatus.APPROVED),
        ({"status": "PLATFORM_DEACTIVATED"}, ReviewStatus.SUSPENDED),
        ({"status": "FREEZE"}, ReviewStatus.SUSPENDED),
        ({"status": "DELETED"}, ReviewStatus.DELETED),
        ({"status": "", "audit": {"status": "AUDITING"}}, ReviewStatus.PENDING),
        ({"audit": {"status": "REJECTED"}}, ReviewStatus.REJECTED),
        ({"status": "SOMETHING_NEW"}, ReviewStatus.UNKNOWN),
    ],
)
def test_review_of_maps_every_status(product, expected):
    assert products.review_of(product)[0] == expected


def test_listings_are_matched_to_catalog_items_by_seller_sku_in_one_query_per_page(
    tiktok, shop, tenant_a, tenant_b
):
    mug = CatalogItem.objects.create(
        tenant=tenant_a, sku="MUG-BLK", title="Mug", price=1, currency="USD"
    )
    lantern = CatalogItem.objects.create(
        tenant=tenant_a, sku="LANTERN-1", title="Lantern", price=1, currency="USD"
    )
    CatalogItem.objects.create(tenant=tenant_b, sku="MUG-WHT", title="B's", price=1, currency="USD")
    two_pages(tiktok)

    with CaptureQueriesContext(db) as queries:
        run_products(shop.connection)

    assert listing("1729592969712207012").catalog_item == mug
    assert listing("1729592969712207301").catalog_item == lantern
    assert listing("1729592969712207013").catalog_item is None  # another tenant's SKU
    assert listing("1729592969712207201").catalog_item is None  # no seller SKU
    catalog_reads = [q for q in queries if 'FROM "catalog_catalogitem"' in q["sql"]]
    assert len(catalog_reads) == 2  # one per page


def test_a_rerun_creates_nothing_and_does_not_ask_for_known_reasons_again(tiktok, shop):
    two_pages(tiktok)
    run_products(shop.connection)
    tiktok.reset()
    two_pages(tiktok)

    again = run_products(shop.connection)

    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert again.stats["created"] == 0 and again.stats["updated"] == 6
    assert Listing.objects.count() == 6
    assert not [c for c in tiktok.calls if c.request.url.startswith(DETAIL_URL)]
    assert listing("1729592969712207101").review_reasons  # kept
    # incremental: from the newest update_time seen, minus the overlap
    search = next(c.request for c in tiktok.calls if c.request.url.startswith(SEARCH_URL))
    assert json.loads(search.body) == {"update_time_ge": 1781810000 - 600}


def test_a_sync_keeps_what_pushes_wrote(tiktok, shop):
    two_pages(tiktok)
    run_products(shop.connection)
    Listing.objects.filter(external_sku_id="1729592969712207012").update(
        pushed_stock=39, last_push_result="updated", last_push_message="ok"
    )

    run_products(shop.connection)

    mug = listing("1729592969712207012")
    assert (mug.pushed_stock, mug.last_push_result, mug.last_push_message) == (39, "updated", "ok")


def test_a_product_without_skus_is_counted_as_skipped(tiktok, shop):
    page = fixture("products_search__page2")
    page["data"]["products"][0]["skus"] = []
    tiktok.post(SEARCH_URL, json=page)

    run = run_products(shop.connection)

    assert run.stats["skipped"] == 1 and run.stats["created"] == 1


# --- through the sandbox ---------------------------------------------------------------------


def hub_queries(captured: list[dict]) -> list[str]:
    return [q["sql"] for q in captured if not any(text in q["sql"] for text in NOT_THE_HUBS)]


def test_sandbox_products_land_in_few_calls_with_constant_queries_per_page(
    shop_connection, sandbox
):
    from .conftest import sandbox_shops

    sandbox.clear()
    per_page: list[int] = []
    capture = CaptureQueriesContext(db)
    capture.__enter__()

    def on_page(progress):
        per_page.append(len(hub_queries(capture.captured_queries)))
        capture.initial_queries = len(db.queries_log)

    try:
        run = sync_run_for_connection_now(
            connection=shop_connection,
            kind="products",
            trigger=SyncRun.Trigger.MANUAL,
            on_page=on_page,
        )
    finally:
        capture.__exit__(None, None, None)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    from apps.sandbox import shop_data

    expected = {
        sku.sku_id
        for shop in sandbox_shops()
        for sku in shop_data.shop_skus(shop["id"], shop["region"])
    }
    assert set(Listing.objects.values_list("external_sku_id", flat=True)) == expected
    searches = sandbox.calls("/product/202309/products/search")
    assert searches == len(sandbox_shops()) * math.ceil(40 / products.PRODUCTS_PAGE_SIZE)
    # The first page also starts and claims the run; after that a page is the shop list,
    # the stored reasons, the catalog match, the upsert (count + insert) and the checkpoint.
    # PostgreSQL's upsert takes at most 4 statements (staging table, emptying it, COPY,
    # INSERT), SQLite's 2.
    upsert = 4 if db.vendor == "postgresql" else 2
    assert per_page[0] <= 14 + upsert, per_page
    assert per_page[1:] == [4 + upsert], per_page
    assert (
        Listing.objects.filter(review_status=ReviewStatus.REJECTED)
        .exclude(review_reasons=[])
        .count()
        == Listing.objects.filter(review_status=ReviewStatus.REJECTED).count()
    )


def test_a_seller_without_the_catalog_pack_is_not_asked_for_products(tiktok, shop):
    shop.connection.granted_scopes = ["seller.authorization.info", "seller.order.info"]
    shop.connection.save()

    run = run_products(shop.connection)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.stats["fetched"] == 0
    assert len(tiktok.calls) == 0
