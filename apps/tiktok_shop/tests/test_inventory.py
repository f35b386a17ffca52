"""Stock from the catalog to TikTok Shop: batches, debounce, partial refusals, warehouses."""

from __future__ import annotations

import json
import math

import pytest
import responses
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from apps.catalog.models import CatalogItem, Listing, ReviewStatus, StockPush
from apps.catalog.services import catalog_item_set_stock
from apps.integrations.models import ConnectionStatus
from apps.integrations.scheduling import schedules
from apps.tiktok_shop import inventory
from apps.tiktok_shop.models import Shop

from .test_products_sync import SHOP_ID, fixture, make_shop

pytestmark = pytest.mark.django_db

API = settings.TIKTOK_SHOP_API_BASE
W1, W2 = "7068517275539719942", "7068517275539719943"


def update_url(product_id: str) -> str:
    return f"{API}/product/202309/products/{product_id}/inventory/update"


@pytest.fixture
def tiktok():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def shop(tenant_a) -> Shop:
    return make_shop(tenant_a)


def stock_world(
    shop: Shop, *, products: dict[str, int], stock: int = 5, warehouses=(W1,), **listing_fields
) -> list[Listing]:
    """``products``: product id -> number of SKUs, each SKU matched to its own catalog item."""
    items, listings = [], []
    for product_id, count in products.items():
        for n in range(count):
            sku = f"{product_id}-{n:03d}"
            items.append(
                CatalogItem(
                    tenant=shop.tenant,
                    sku=sku,
                    title=sku,
                    price=1,
                    currency="USD",
                    stock=stock,
                    stock_changed_at=timezone.now(),
                )
            )
    CatalogItem.objects.bulk_create(items)
    by_sku = dict(CatalogItem.objects.values_list("sku", "pk"))
    for product_id, count in products.items():
        for n in range(count):
            sku = f"{product_id}-{n:03d}"
            listings.append(
                Listing(
                    tenant=shop.tenant,
                    channel="tiktok_shop",
                    account_ref=shop.shop_id,
                    external_product_id=product_id,
                    external_sku_id=f"sku-{sku}",
                    seller_sku=sku,
                    catalog_item_id=by_sku[sku],
                    review_status=ReviewStatus.APPROVED,
                    extra={"inventory": [{"warehouse_id": w, "quantity": 1} for w in warehouses]},
                    **listing_fields,
                )
            )
    return Listing.objects.bulk_create(listings)


def answer(mock, product_id: str, name: str = "inventory_update__success") -> None:
    mock.post(update_url(product_id), json=fixture(name))


def bodies(mock, product_id: str) -> list[dict]:
    url = update_url(product_id)
    return [json.loads(c.request.body) for c in mock.calls if c.request.url.split("?")[0] == url]


def push(shop: Shop, *, only_changed: bool = True, trigger: str = "change") -> list[StockPush]:
    return inventory.push_shop_stock(shop=shop, trigger=trigger, only_changed=only_changed)


def test_n_skus_of_a_product_go_in_ceil_n_over_max_calls(tiktok, shop):
    stock_world(shop, products={"p1": 250})
    answer(tiktok, "p1")

    pushes = push(shop)

    sent = bodies(tiktok, "p1")
    assert len(sent) == math.ceil(250 / inventory.DEFAULT_BATCH_SIZE) == 3
    assert [len(body["skus"]) for body in sent] == [100, 100, 50]
    assert [len(p.items) for p in pushes] == [100, 100, 50]
    assert StockPush.objects.filter(status=StockPush.Status.SUCCEEDED).count() == 3
    assert set(Listing.objects.values_list("pushed_stock", flat=True)) == {5}


def test_the_batch_size_is_a_setting(tiktok, shop, settings):
    settings.TIKTOK_SHOP_INVENTORY_BATCH_SIZE = 40
    stock_world(shop, products={"p1": 250})
    answer(tiktok, "p1")

    push(shop)

    assert len(bodies(tiktok, "p1")) == math.ceil(250 / 40) == 7


def test_skus_are_grouped_by_product_one_call_each(tiktok, shop):
    stock_world(shop, products={"p1": 3, "p2": 2})
    answer(tiktok, "p1")
    answer(tiktok, "p2")

    pushes = push(shop)

    assert [len(b["skus"]) for b in bodies(tiktok, "p1")] == [3]
    assert [len(b["skus"]) for b in bodies(tiktok, "p2")] == [2]
    assert {p.external_product_id for p in pushes} == {"p1", "p2"}
    call = next(c.request for c in tiktok.calls)
    assert "shop_cipher=" in call.url and "sign=" in call.url


def test_many_stock_changes_within_the_window_become_one_push_per_shop(tiktok, shop, monkeypatch):
    listings = stock_world(shop, products={"p1": 5})
    answer(tiktok, "p1")
    push(shop)  # the first push of what was synced
    tiktok.calls.reset()
    before = StockPush.objects.count()
    queued: list[tuple] = []
    monkeypatch.setattr(inventory, "enqueue", lambda func, *args: queued.append((func, *args)))

    items = list(CatalogItem.objects.order_by("sku"))
    for round_ in range(1, 5):  # 20 changes on 5 items
        for item in items:
            catalog_item_set_stock(item=item, stock=10 * round_ + item.pk % 3)
    inventory.push_changed_stock()  # the minute tick

    assert queued == [("apps.tiktok_shop.inventory.push_shop_stock_task", shop.pk, "change", True)]
    assert inventory.push_shop_stock_task(shop.pk, "change", True) == 5
    sent = bodies(tiktok, "p1")
    assert len(sent) == 1
    expected = {f"sku-{item.sku}": 40 + item.pk % 3 for item in items}
    assert {s["id"]: s["inventory"][0]["quantity"] for s in sent[0]["skus"]} == expected
    assert StockPush.objects.count() == before + 1

    queued.clear()
    inventory.push_changed_stock()  # nothing changed since
    assert queued == []
    assert len(listings) == 5


def test_a_stock_that_returns_to_the_pushed_value_sends_nothing(tiktok, shop):
    stock_world(shop, products={"p1": 1}, pushed_stock=5)
    item = CatalogItem.objects.get()
    catalog_item_set_stock(item=item, stock=9)
    catalog_item_set_stock(item=item, stock=5)

    assert push(shop) == []
    assert len(tiktok.calls) == 0
    assert inventory.shops_with_changed_stock() == []


def test_every_warehouse_is_sent_the_stock_in_the_first_and_zero_elsewhere(tiktok, shop):
    stock_world(shop, products={"p1": 1}, stock=7, warehouses=(W1, W2))
    answer(tiktok, "p1")

    push(shop)

    assert bodies(tiktok, "p1")[0]["skus"][0]["inventory"] == [
        {"warehouse_id": W1, "quantity": 7},
        {"warehouse_id": W2, "quantity": 0},
    ]


def test_quantities_are_capped_at_tiktoks_maximum(tiktok, shop):
    stock_world(shop, products={"p1": 1}, stock=250_000)
    answer(tiktok, "p1")

    push(shop)

    assert bodies(tiktok, "p1")[0]["skus"][0]["inventory"][0]["quantity"] == 99_999


def test_a_partial_refusal_is_recorded_per_sku(tiktok, shop):
    stock_world(shop, products={"p1": 2})
    Listing.objects.filter(external_sku_id="sku-p1-001").update(
        external_sku_id="1729592969712207013"
    )
    answer(tiktok, "p1", "inventory_update__partial")

    pushes = push(shop)

    assert pushes[0].status == StockPush.Status.PARTIAL
    assert pushes[0].provider_answer["errors"][0]["detail"]["sku_id"] == "1729592969712207013"
    refused = Listing.objects.get(external_sku_id="1729592969712207013")
    accepted = Listing.objects.get(external_sku_id="sku-p1-000")
    assert refused.pushed_stock is None
    assert "The warehouse does not exist (12052097)" in refused.stock_push_error
    assert (accepted.pushed_stock, accepted.stock_push_error) == (5, "")


def test_a_refused_sku_waits_for_a_new_change_or_the_hourly_push(tiktok, shop, monkeypatch):
    stock_world(shop, products={"p1": 2})
    Listing.objects.filter(external_sku_id="sku-p1-001").update(
        external_sku_id="1729592969712207013"
    )
    answer(tiktok, "p1", "inventory_update__partial")
    push(shop)
    tiktok.calls.reset()

    assert push(shop) == []  # not every minute
    assert inventory.shops_with_changed_stock() == []

    hourly = push(shop, only_changed=False, trigger="hourly")
    assert len(hourly) == 1 and set(hourly[0].items) == {"sku-p1-000", "1729592969712207013"}

    tiktok.calls.reset()
    catalog_item_set_stock(item=CatalogItem.objects.get(sku="p1-001"), stock=6)
    again = push(shop)
    assert len(again) == 1 and set(again[0].items) == {"1729592969712207013"}


def test_rejected_deleted_draft_and_unmatched_listings_are_left_out(tiktok, shop):
    stock_world(shop, products={"p1": 4})
    for sku_id, review in (
        ("sku-p1-000", ReviewStatus.REJECTED),
        ("sku-p1-001", ReviewStatus.DELETED),
        ("sku-p1-002", ReviewStatus.DRAFT),
    ):
        Listing.objects.filter(external_sku_id=sku_id).update(review_status=review)
    Listing.objects.create(
        tenant=shop.tenant,
        channel="tiktok_shop",
        account_ref=shop.shop_id,
        external_product_id="p1",
        external_sku_id="unmatched",
    )
    answer(tiktok, "p1")

    pushes = push(shop, only_changed=False)

    assert list(pushes[0].items) == ["sku-p1-003"]


def test_a_refused_scope_stops_the_shop_and_is_recorded(tiktok, shop):
    stock_world(shop, products={"p1": 1, "p2": 1})
    answer(tiktok, "p1", "inventory_update__scope_missing")
    answer(tiktok, "p2")

    pushes = push(shop)

    assert len(pushes) == 1 and pushes[0].status == StockPush.Status.FAILED
    assert "seller.product.write" in pushes[0].error
    assert len(tiktok.calls) == 1  # p2 waits for the next tick
    assert Listing.objects.get(external_product_id="p2").pushed_stock is None


def test_a_shop_another_worker_holds_is_left_for_the_next_tick(tiktok, shop):
    stock_world(shop, products={"p1": 1})
    cache.add(f"tiktok_shop:stock:{shop.pk}", "someone else", 60)

    assert push(shop) == []
    assert len(tiktok.calls) == 0
    assert inventory.shops_with_changed_stock() == [shop.pk]


def test_the_hourly_tick_queues_every_live_shop_with_matched_listings(
    tenant_a, tenant_b, monkeypatch
):
    live = make_shop(tenant_a)
    other = make_shop(tenant_b, shop_id="7000000000000000002")
    gone = make_shop(tenant_b, shop_id="7000000000000000003")
    stock_world(live, products={"p1": 1})
    stock_world(other, products={"p2": 1})
    other.connection.status = ConnectionStatus.DISCONNECTED
    other.connection.save()
    gone.authorized = False
    gone.save()
    queued = []
    monkeypatch.setattr(inventory, "enqueue", lambda func, *args: queued.append(args))

    assert inventory.push_all_stock() == 1
    assert queued == [(live.pk, "hourly", False)]


def test_both_ticks_are_registered_as_periodic_tasks():
    tasks = {task.name: task for task in schedules.all()}
    assert tasks[inventory.CHANGED_TASK].minutes == 1
    assert tasks[inventory.CHANGED_TASK].func == "apps.tiktok_shop.inventory.push_changed_stock"
    assert tasks[inventory.HOURLY_TASK].minutes == 60


def test_send_stock_now_from_the_products_page(owner_client, tiktok, shop):
    stock_world(shop, products={"p1": 2}, pushed_stock=5)
    answer(tiktok, "p1")

    response = owner_client.post("/catalog/stock/push/", {"account": f"tiktok_shop:{SHOP_ID}"})

    assert response.status_code == 302
    assert len(bodies(tiktok, "p1")) == 1  # everything, not only what changed
    assert StockPush.objects.get().trigger == "manual"


# --- through the sandbox ----------------------------------------------------------------------


def test_the_sandbox_takes_the_catalogs_stock(shop_connection, sandbox, tenant_a):
    from apps.integrations.models import SyncRun
    from apps.integrations.sync import sync_run_for_connection_now
    from apps.tiktok_shop.services import client_for

    shop = Shop.objects.filter(connection=shop_connection).order_by("shop_id").first()
    run = sync_run_for_connection_now(
        connection=shop_connection, kind="products", trigger=SyncRun.Trigger.MANUAL
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    skus = list(
        Listing.objects.filter(account_ref=shop.shop_id)
        .exclude(review_status__in=inventory.NOT_PUSHED)
        .values_list("seller_sku", flat=True)
    )
    for n, sku in enumerate(skus):
        CatalogItem.objects.create(
            tenant=tenant_a, sku=sku, title=sku, price=1, currency="USD", stock=n
        )
    from apps.catalog.services import listings_match

    listings_match(tenant=tenant_a)

    pushes = inventory.push_shop_stock(shop=shop, trigger="manual", only_changed=False)

    assert pushes and all(p.status == StockPush.Status.SUCCEEDED for p in pushes), [
        p.error for p in pushes
    ]
    with client_for(shop_connection) as client:
        data = client.products_search(shop_cipher=shop.cipher)
    stock_at_tiktok = {
        sku["seller_sku"]: sum(row["quantity"] for row in sku["inventory"])
        for product in data["products"]
        for sku in product["skus"]
    }
    expected = dict(CatalogItem.objects.values_list("sku", "stock"))
    assert {sku: stock_at_tiktok[sku] for sku in expected} == expected


def test_the_sandbox_refuses_more_skus_than_the_limit_in_one_call(shop_connection, sandbox):
    from apps.integrations.http import ProviderError
    from apps.tiktok_shop.services import client_for

    shop = Shop.objects.filter(connection=shop_connection).order_by("shop_id").first()
    from apps.sandbox import shop_data

    product_id = shop_data.shop_skus(shop.shop_id, shop.region)[0].product_id
    skus = [{"id": str(n), "inventory": [{"quantity": 1}]} for n in range(101)]

    with client_for(shop_connection) as client, pytest.raises(ProviderError) as refused:
        client.inventory_update(shop_cipher=shop.cipher, product_id=product_id, skus=skus)
    assert "at most 100 skus" in str(refused.value)

    with client_for(shop_connection) as client:
        data, _request_id = client.inventory_update(
            shop_cipher=shop.cipher,
            product_id=product_id,
            skus=[{"id": "not-a-sku", "inventory": [{"quantity": 100_000}]}],
        )
    assert data["errors"][0]["detail"]["sku_id"] == "not-a-sku"


def test_a_seller_without_the_write_scope_gets_no_stock_pushes(tiktok, shop):
    stock_world(shop, products={"p1": 1})
    shop.connection.granted_scopes = ["seller.product.basic"]
    shop.connection.save()

    assert push(shop) == []
    assert len(tiktok.calls) == 0
    assert not StockPush.objects.exists()
