"""``manage.py import_catalog``: every row validated, good rows land, reruns write nothing."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from apps.catalog import csvimport
from apps.catalog.csvimport import ImportFileError, catalog_import_csv
from apps.catalog.models import CatalogItem, Listing

pytestmark = pytest.mark.django_db

HEADER = (
    "sku,title,description,price,currency,stock,images,category,weight_kg,category:tiktok_shop\n"
)
GOOD = (
    HEADER
    + "MUG-BLK,Ceramic mug black,A mug.,12.90,usd,40,https://cdn.example/mug.jpg|https://cdn.example/mug2.jpg,Mugs,0.450,600001\n"
    + 'MUG-WHT,"Ceramic mug, white","Two\nlines",12.90,USD,7,,Mugs,,\n'
)


def run(tenant, text: str, **kwargs) -> csvimport.ImportReport:
    return catalog_import_csv(tenant=tenant, file=io.StringIO(text), **kwargs)


def test_good_rows_are_created_with_every_field(tenant_a):
    report = run(tenant_a, GOOD)

    assert (report.created, report.updated, report.unchanged, report.rejected) == (2, 0, 0, 0)
    mug = CatalogItem.objects.get(tenant=tenant_a, sku="MUG-BLK")
    assert mug.title == "Ceramic mug black"
    assert mug.price == Decimal("12.90")
    assert mug.currency == "USD"  # upper-cased
    assert mug.stock == 40
    assert mug.images == ["https://cdn.example/mug.jpg", "https://cdn.example/mug2.jpg"]
    assert mug.weight_kg == Decimal("0.450")
    assert mug.category_mapping == {"tiktok_shop": "600001"}
    assert mug.stock_changed_at is not None
    white = CatalogItem.objects.get(tenant=tenant_a, sku="MUG-WHT")
    assert white.title == "Ceramic mug, white"
    assert white.description == "Two\nlines"
    assert white.images == [] and white.weight_kg is None and white.category_mapping == {}


def test_bad_rows_are_reported_with_line_column_and_why_and_good_rows_land(tenant_a):
    text = (
        HEADER
        + "OK-1,Fine,,1.00,USD,1,,,,\n"
        + ",No SKU,,1.00,USD,1,,,,\n"  # line 3
        + "BAD-PRICE,Price,,12,50,USD,1,,,,\n"  # line 4: a decimal comma shifts the cells
        + "NEG,Negative,,-1,USD,1,,,,\n"  # line 5
        + "CUR,Currency,,1.00,DOLLARS,1,,,,\n"  # line 6
        + "STOCK,Stock,,1.00,USD,-3,,,,\n"  # line 7
        + "IMG,Image,,1.00,USD,1,ftp://cdn.example/a.jpg,,,\n"  # line 8
        + "OK-1,Duplicate,,1.00,USD,1,,,,\n"  # line 9
        + "DEC,Decimals,,1.005,USD,1,,,,\n"  # line 10
        + "OK-2,Also fine,,2.00,BRL,0,,,,\n"  # line 11
    )
    report = run(tenant_a, text)

    assert (report.created, report.rejected) == (2, 8)
    assert set(CatalogItem.objects.values_list("sku", flat=True)) == {"OK-1", "OK-2"}
    found = {(e.line, e.column) for e in report.errors}
    assert (3, "sku") in found
    assert (4, "currency") in found  # "50" landed in the currency column
    assert (5, "price") in found
    assert (6, "currency") in found
    assert (7, "stock") in found
    assert (8, "images") in found
    assert (9, "sku") in found
    assert (10, "price") in found
    duplicate = next(e for e in report.errors if e.line == 9)
    assert "line 2" in duplicate.message
    assert str(duplicate).startswith("line 9, column sku:")


def test_cells_beyond_the_header_are_reported(tenant_a):
    report = run(tenant_a, "sku,title,price,currency,stock\nA,B,1,USD,1,surplus\n")

    assert report.rejected == 1
    assert report.errors[0].line == 2 and report.errors[0].column == "-"


def test_every_problem_of_a_row_is_reported_not_only_the_first(tenant_a):
    report = run(tenant_a, HEADER + ",,,abc,US,x,,,,\n")

    assert report.rejected == 1
    assert {e.column for e in report.errors} == {"sku", "title", "price", "currency", "stock"}


def test_rerun_of_the_same_file_is_all_unchanged_and_writes_nothing(tenant_a):
    run(tenant_a, GOOD)
    before = dict(CatalogItem.objects.values_list("sku", "updated_at"))

    with CaptureQueriesContext(db) as queries:
        report = run(tenant_a, GOOD)

    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert dict(CatalogItem.objects.values_list("sku", "updated_at")) == before
    writes = [
        q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]
    assert writes == []


def test_changed_rows_are_updated_and_only_a_stock_change_moves_stock_changed_at(tenant_a):
    run(tenant_a, GOOD)
    stamps = dict(CatalogItem.objects.values_list("sku", "stock_changed_at"))
    text = GOOD.replace(
        "Ceramic mug black,A mug.,12.90,usd,40", "Ceramic mug black,A mug.,13.90,usd,40"
    )
    text = text.replace("12.90,USD,7", "12.90,USD,3")

    report = run(tenant_a, text)

    assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
    black = CatalogItem.objects.get(sku="MUG-BLK")
    white = CatalogItem.objects.get(sku="MUG-WHT")
    assert black.price == Decimal("13.90")
    assert black.stock_changed_at == stamps["MUG-BLK"]  # price only
    assert white.stock == 3
    assert white.stock_changed_at > stamps["MUG-WHT"]


def test_dry_run_validates_and_counts_but_writes_nothing(tenant_a):
    report = run(tenant_a, GOOD + "BAD,,,1,USD,1,,,,\n", dry_run=True)

    assert (report.created, report.rejected, report.dry_run) == (2, 1, True)
    assert not CatalogItem.objects.exists()


def test_an_empty_channel_category_cell_removes_that_mapping_and_absent_columns_keep_theirs(
    tenant_a,
):
    CatalogItem.objects.create(
        tenant=tenant_a,
        sku="MUG-BLK",
        title="Mug",
        price=1,
        currency="USD",
        category_mapping={"tiktok_shop": "600001", "shopify": "mugs"},
    )
    run(tenant_a, "sku,title,price,currency,stock,category:tiktok_shop\nMUG-BLK,Mug,1,USD,0,\n")

    assert CatalogItem.objects.get(sku="MUG-BLK").category_mapping == {"shopify": "mugs"}


def test_missing_required_columns_refuse_the_whole_file(tenant_a):
    with pytest.raises(ImportFileError, match="price, currency"):
        run(tenant_a, "sku,title,stock\nA,B,1\n")
    assert not CatalogItem.objects.exists()


def test_semicolon_files_and_a_bom_are_read(tenant_a):
    text = "\ufeffsku;title;price;currency;stock\nA-1;Caneca;19.90;BRL;5\n"
    report = catalog_import_csv(tenant=tenant_a, file=io.BytesIO(text.encode("utf-8")))

    assert report.created == 1
    assert CatalogItem.objects.get(sku="A-1").title == "Caneca"


def test_unknown_columns_are_ignored_and_reported(tenant_a):
    report = run(tenant_a, "sku,title,price,currency,stock,colour\nA,B,1,USD,1,red\n")

    assert report.created == 1
    assert report.ignored_columns == ["colour"]


def test_items_of_another_tenant_are_neither_read_nor_touched(tenant_a, tenant_b):
    run(tenant_b, GOOD)
    report = run(tenant_a, GOOD)

    assert report.created == 2
    assert CatalogItem.objects.filter(sku="MUG-BLK").count() == 2


def test_new_items_are_matched_to_existing_listings_by_seller_sku(tenant_a):
    listing = Listing.objects.create(
        tenant=tenant_a,
        channel="tiktok_shop",
        account_ref="7001",
        external_product_id="p1",
        external_sku_id="s1",
        seller_sku="MUG-BLK",
    )
    run(tenant_a, GOOD)

    listing.refresh_from_db()
    assert listing.catalog_item == CatalogItem.objects.get(tenant=tenant_a, sku="MUG-BLK")


def test_big_files_go_in_batches_with_a_constant_number_of_queries(tenant_a, monkeypatch):
    monkeypatch.setattr(csvimport, "BATCH_SIZE", 50)
    rows = "".join(f"SKU-{n:04d},Item {n},,1.00,USD,{n},,,,\n" for n in range(200))
    progress = []

    with CaptureQueriesContext(db) as queries:
        report = run(tenant_a, HEADER + rows, on_progress=lambda done, total: progress.append(done))

    assert report.created == 200
    assert progress == [50, 100, 150, 200]
    # per batch: read the stored items, the upsert (count + insert), match listings; plus savepoints
    assert len(queries) <= 4 * 8


def test_command_prints_progress_rejections_and_a_summary_and_fails_on_rejects(tenant_a, tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text(GOOD + "BAD,,,1,USD,1,,,,\n", encoding="utf-8")
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 row\\(s\\) rejected"):
        call_command("import_catalog", str(path), "--tenant", tenant_a.slug, stdout=out)

    text = out.getvalue()
    assert "3/3 row(s) checked" in text
    assert "rejected line 5, column title: is empty" in text
    assert "created=2 updated=0 unchanged=0 rejected=1" in text
    assert CatalogItem.objects.count() == 2


def test_command_rerun_reports_unchanged(tenant_a, tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text(GOOD, encoding="utf-8")
    call_command("import_catalog", str(path), "--tenant", tenant_a.slug, stdout=io.StringIO())
    out = io.StringIO()

    call_command("import_catalog", str(path), "--tenant", tenant_a.slug, stdout=out)

    assert "created=0 updated=0 unchanged=2 rejected=0" in out.getvalue()


def test_command_dry_run_says_so_and_writes_nothing(tenant_a, tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text(GOOD, encoding="utf-8")
    out = io.StringIO()

    call_command("import_catalog", str(path), "--tenant", tenant_a.slug, "--dry-run", stdout=out)

    assert (
        "created=2 updated=0 unchanged=0 rejected=0 (dry run: nothing was written)"
        in out.getvalue()
    )
    assert not CatalogItem.objects.exists()


def test_command_refuses_an_unknown_tenant_and_an_unreadable_file(tenant_a, tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_bytes(b"sku,title,price,currency,stock\n\xff\xfe,x,1,USD,1\n")
    with pytest.raises(CommandError, match="No tenant"):
        call_command("import_catalog", str(path), "--tenant", "nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_catalog", str(path), "--tenant", tenant_a.slug, stdout=io.StringIO())
