"""Rows per second of three ways to land provider records on their natural key.

Compares, on the configured database (``DATABASE_URL``), for an insert pass
(empty table) and an update pass (every key exists, values changed):

- ``update_or_create`` row by row (on a smaller sample: it is slow),
- ``bulk_create(update_conflicts=True)`` in batches,
- ``apps.integrations.upsert.bulk_upsert`` in batches (one call per batch, as
  the sync runner calls it once per page).

The table is order-like (ids, statuses, money as Decimal, currency,
timestamps, buyer fields, a ~1 KB JSON payload; unique on tenant and order
id). The script creates it with the schema editor and drops it at the end, so
it touches nothing else::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_upsert.py
    .venv/bin/python bench/bench_upsert.py --rows 20000 --batch 1000 --sample 1000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from apps.integrations.upsert import bulk_upsert

TABLE = "bench_upsert_order"
UNIQUE = ("tenant_id", "order_id")
STATUSES = ("UNPAID", "AWAITING_SHIPMENT", "IN_TRANSIT", "DELIVERED", "COMPLETED", "CANCELLED")
CITIES = ("São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba", "Recife", "Porto Alegre")


class BenchOrder(models.Model):
    """An order as a shop API lists it; lives only while the benchmark runs."""

    tenant_id = models.BigIntegerField()
    order_id = models.CharField(max_length=32)
    shop_id = models.CharField(max_length=32)
    status = models.CharField(max_length=32)
    payment_method = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    shipping_fee = models.DecimalField(max_digits=14, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    item_count = models.IntegerField()
    buyer_name = models.CharField(max_length=200)
    buyer_email = models.CharField(max_length=254)
    buyer_phone = models.CharField(max_length=32, blank=True)
    buyer_city = models.CharField(max_length=100)
    placed_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True)
    provider_updated_at = models.DateTimeField()
    payload = models.JSONField(default=dict)
    synced_at = models.DateTimeField()

    class Meta:
        app_label = "integrations"
        db_table = TABLE
        constraints = [models.UniqueConstraint(fields=list(UNIQUE), name="bench_order_unique")]

    def __str__(self) -> str:
        return self.order_id


FIELDS = [f.attname for f in BenchOrder._meta.concrete_fields if not f.primary_key]
UPDATE_FIELDS = [name for name in FIELDS if name not in UNIQUE]


def make_rows(count: int, *, version: int, seed: int = 7) -> list[dict]:
    """``count`` orders; ``version`` changes statuses, amounts and timestamps, not keys."""
    rnd = random.Random(seed)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        subtotal = Decimal(rnd.randint(1000, 500000)) / 100 + version
        shipping = Decimal(rnd.randint(0, 3000)) / 100
        placed = base + timedelta(minutes=n)
        lines = [
            {
                "sku_id": f"SKU{rnd.randint(10**9, 10**10)}",
                "product_name": f"Produto {rnd.randint(1, 999)} — edição {version}",
                "quantity": rnd.randint(1, 3),
                "sale_price": str(Decimal(rnd.randint(100, 90000)) / 100),
            }
            for _ in range(6)
        ]
        rows.append(
            {
                "tenant_id": 1 + n % 10,
                "order_id": f"57{n:016d}",
                "shop_id": f"7{n % 10:09d}",
                "status": STATUSES[(n + version) % len(STATUSES)],
                "payment_method": "PIX" if n % 3 else "CREDIT_CARD",
                "currency": "BRL",
                "subtotal": subtotal,
                "shipping_fee": shipping,
                "total": subtotal + shipping,
                "item_count": sum(line["quantity"] for line in lines),
                "buyer_name": f"Cliente {n}",
                "buyer_email": f"cliente{n}@example.com.br",
                "buyer_phone": f"+55 11 9{n % 10**8:08d}",
                "buyer_city": CITIES[n % len(CITIES)],
                "placed_at": placed,
                "paid_at": placed + timedelta(minutes=5) if n % 4 else None,
                "provider_updated_at": placed + timedelta(hours=version),
                "payload": {
                    "id": f"57{n:016d}",
                    "version": version,
                    "line_items": lines,
                    "recipient_address": {
                        "full_address": f"Rua {n}, {rnd.randint(1, 9999)}, {CITIES[n % 6]}",
                        "postal_code": f"{rnd.randint(10000, 99999)}-{rnd.randint(100, 999)}",
                    },
                    "tracking_number": f"BR{rnd.randint(10**11, 10**12)}",
                    "buyer_message": "Entregar na portaria, por favor. Obrigado!",
                },
                "synced_at": now,
            }
        )
    return rows


def batches(rows: list[dict], size: int):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def per_row_update_or_create(rows: list[dict], batch: int) -> None:
    for row in rows:
        BenchOrder.objects.update_or_create(
            tenant_id=row["tenant_id"],
            order_id=row["order_id"],
            defaults={k: v for k, v in row.items() if k not in UNIQUE},
        )


def orm_bulk_create(rows: list[dict], batch: int) -> None:
    for chunk in batches(rows, batch):
        BenchOrder.objects.bulk_create(
            [BenchOrder(**row) for row in chunk],
            update_conflicts=True,
            unique_fields=list(UNIQUE),
            update_fields=UPDATE_FIELDS,
        )


def our_bulk_upsert(rows: list[dict], batch: int) -> None:
    for chunk in batches(rows, batch):
        bulk_upsert(model=BenchOrder, rows=chunk, unique_fields=UNIQUE, batch_size=batch)


def timed(method: Callable[[list[dict], int], None], rows: list[dict], batch: int) -> float:
    started = time.perf_counter()
    method(rows, batch)
    return len(rows) / (time.perf_counter() - started)


def server_version() -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
            return f"SQLite {cursor.fetchone()[0]}"
    return connection.vendor


def truncate() -> None:
    BenchOrder.objects.all().delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="rows for the bulk methods")
    parser.add_argument("--batch", type=int, default=1000, help="rows per batch (a sync page)")
    parser.add_argument("--sample", type=int, default=1000, help="rows for update_or_create")
    args = parser.parse_args()

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(TABLE)}")
    with connection.schema_editor() as editor:
        editor.create_model(BenchOrder)
    try:
        methods = [
            ("update_or_create, per row", per_row_update_or_create, args.sample),
            ("bulk_create(update_conflicts=True)", orm_bulk_create, args.rows),
            ("bulk_upsert", our_bulk_upsert, args.rows),
        ]
        figures = []
        for label, method, count in methods:
            truncate()
            inserted = timed(method, make_rows(count, version=1), args.batch)
            assert BenchOrder.objects.count() == count
            updated = timed(method, make_rows(count, version=2), args.batch)
            assert BenchOrder.objects.count() == count
            assert BenchOrder.objects.filter(payload__version=2).count() == count
            figures.append((label, count, inserted, updated))
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(BenchOrder)

    payload_bytes = len(json.dumps(make_rows(1, version=1)[0]["payload"], cls=DjangoJSONEncoder))
    print(
        f"database: {server_version()} | batch {args.batch} | {len(FIELDS)} columns, "
        f"JSON payload ~{payload_bytes} B"
    )
    print(f"{'method':<38} {'rows':>7} {'insert rows/s':>14} {'update rows/s':>14}")
    for label, count, inserted, updated in figures:
        print(f"{label:<38} {count:>7} {inserted:>14,.0f} {updated:>14,.0f}")


if __name__ == "__main__":
    main()
