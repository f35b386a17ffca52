"""The demo catalog (``apps/catalog/fixtures/demo_catalog.csv``) against the sandbox's shops.

The README's demo imports this file for the first sandbox seller; these tests
keep it true: it imports cleanly, its ``SB-`` SKUs are that seller's products,
its ``DEMO-`` items can be published, and the replica is rejected.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.catalog.models import CatalogItem, Listing, ReviewStatus
from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.sandbox import shop_data

from .conftest import sandbox_shops

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "catalog" / "fixtures" / "demo_catalog.csv"


def demo_rows() -> list[dict]:
    with DEMO.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_sb_sku_of_the_demo_is_a_product_of_the_first_sandbox_seller():
    seller_skus = {
        sku.seller_sku
        for shop in sandbox_shops()
        for sku in shop_data.shop_skus(shop["id"], shop["region"])
    }
    demo = {row["sku"] for row in demo_rows() if row["sku"].startswith("SB-")}

    assert len(demo) > 100
    assert demo <= seller_skus
    assert seller_skus - demo  # some shop products stay unmatched, to show that view


def test_demo_import_sync_and_publish(
    owner_client, shop_connection, sandbox, frozen_clock, tmp_path
):
    import io

    call_command(
        "import_catalog", str(DEMO), "--tenant", shop_connection.tenant.slug, stdout=io.StringIO()
    )
    assert CatalogItem.objects.count() == len(demo_rows())

    run = sync_run_for_connection_now(
        connection=shop_connection, kind="products", trigger=SyncRun.Trigger.MANUAL
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    sb_items = CatalogItem.objects.filter(sku__startswith="SB-")
    assert Listing.objects.filter(catalog_item__in=sb_items).count() == sb_items.count()
    assert Listing.objects.filter(catalog_item__isnull=True).exists()

    new = CatalogItem.objects.filter(sku__endswith="-NEW-1").first()
    region = new.sku.split("-")[1]
    shop = next(s for s in shop_connection.shops.all() if s.region == region)
    response = owner_client.post(
        reverse("catalog:item_push", args=[new.pk]),
        {"account": f"tiktok_shop:{shop.shop_id}"},
        headers={"HX-Request": "true"},
    )
    assert "sent as a new product" in response.content.decode()
    assert Listing.objects.get(catalog_item=new).review_status == ReviewStatus.PENDING

    no_category = CatalogItem.objects.get(sku=f"DEMO-{region}-NO-CATEGORY")
    response = owner_client.post(
        reverse("catalog:item_push", args=[no_category.pk]),
        {"account": f"tiktok_shop:{shop.shop_id}"},
        headers={"HX-Request": "true"},
    )
    assert "No TikTok Shop category" in response.content.decode()
