"""Catalog services: stock changes, matching listings by seller SKU, the channel registry."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.catalog import services
from apps.catalog.channels import Channel, PushRefused, UnknownChannel, channels
from apps.catalog.models import CatalogItem, Listing

pytestmark = pytest.mark.django_db


def make_item(tenant, sku: str = "MUG-BLK", **fields) -> CatalogItem:
    defaults = {"title": f"Item {sku}", "price": "12.90", "currency": "USD", "stock": 5}
    return CatalogItem.objects.create(tenant=tenant, sku=sku, **{**defaults, **fields})


def make_listing(tenant, sku_id: str, seller_sku: str = "", **fields) -> Listing:
    defaults = {"channel": "tiktok_shop", "account_ref": "7001", "external_product_id": "p1"}
    return Listing.objects.create(
        tenant=tenant, external_sku_id=sku_id, seller_sku=seller_sku, **{**defaults, **fields}
    )


def test_set_stock_moves_stock_changed_at_only_when_it_changes(tenant_a):
    item = make_item(tenant_a, stock=5)
    assert services.catalog_item_set_stock(item=item, stock=5) is False
    assert CatalogItem.objects.get(pk=item.pk).stock_changed_at is None

    assert services.catalog_item_set_stock(item=item, stock=9) is True
    stored = CatalogItem.objects.get(pk=item.pk)
    assert stored.stock == 9
    assert stored.stock_changed_at is not None
    with pytest.raises(ValueError):
        services.catalog_item_set_stock(item=item, stock=-1)


def test_listings_match_links_by_seller_sku_and_unlinks_what_left_the_catalog(tenant_a):
    mug = make_item(tenant_a, "MUG-BLK")
    matched = make_listing(tenant_a, "s1", "MUG-BLK")
    stale = make_listing(tenant_a, "s2", "GONE", catalog_item=mug)
    blank = make_listing(tenant_a, "s3", "")

    services.listings_match(tenant=tenant_a)

    for listing in (matched, stale, blank):
        listing.refresh_from_db()
    assert matched.catalog_item == mug
    assert stale.catalog_item is None
    assert blank.catalog_item is None


def test_listings_match_never_crosses_tenants(tenant_a, tenant_b):
    make_item(tenant_b, "MUG-BLK")
    listing = make_listing(tenant_a, "s1", "MUG-BLK")

    services.listings_match(tenant=tenant_a)

    listing.refresh_from_db()
    assert listing.catalog_item is None


def test_listings_match_can_be_narrowed_to_some_skus(tenant_a):
    make_item(tenant_a, "A")
    make_item(tenant_a, "B")
    a = make_listing(tenant_a, "s1", "A")
    b = make_listing(tenant_a, "s2", "B")

    services.listings_match(tenant=tenant_a, skus=["A"])

    a.refresh_from_db()
    b.refresh_from_db()
    assert a.catalog_item is not None and b.catalog_item is None


def test_push_refuses_an_unknown_channel_or_account(tenant_a):
    item = make_item(tenant_a)
    with pytest.raises(UnknownChannel):
        services.catalog_item_push(item=item, channel_key="nope", account_ref="1", user=None)
    with pytest.raises(PushRefused, match="Unknown account"):
        services.catalog_item_push(item=item, channel_key="tiktok_shop", account_ref="1", user=None)


def test_tiktok_shop_registers_itself_as_a_channel():
    channel = channels.get("tiktok_shop")
    assert isinstance(channel, Channel)
    assert channel.push_item_path == "apps.tiktok_shop.products.push_catalog_item"


def test_editing_stock_in_the_admin_counts_as_a_stock_change(client, tenant_a):
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(staff)
    item = make_item(tenant_a, stock=5)
    url = reverse("admin:catalog_catalogitem_change", args=[item.pk])
    form = {
        "tenant": tenant_a.pk,
        "sku": item.sku,
        "title": "Renamed",
        "description": "",
        "price": "12.90",
        "currency": "USD",
        "stock": "5",
        "images": "[]",
        "category": "",
        "category_mapping": "{}",
        "weight_kg": "",
    }

    assert client.post(url, form).status_code == 302
    item.refresh_from_db()
    assert item.title == "Renamed" and item.stock_changed_at is None

    client.post(url, {**form, "stock": "8"})
    item.refresh_from_db()
    assert item.stock == 8 and item.stock_changed_at is not None


def test_the_admin_lists_and_searches_items_listings_and_pushes(client, tenant_a):
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(staff)
    make_item(tenant_a, "MUG-BLK")
    make_listing(tenant_a, "s1", "MUG-BLK")

    page = client.get(reverse("admin:catalog_catalogitem_changelist"), {"q": "MUG"})
    assert b"MUG-BLK" in page.content
    assert client.get(reverse("admin:catalog_listing_changelist")).status_code == 200
    assert client.get(reverse("admin:catalog_stockpush_changelist")).status_code == 200
