"""TikTok Shop orders: parse-and-upsert rows per second (orders plus their line rows).

What one page of the orders sync does after the HTTP answer, timed over many
pages: ``order_rows`` (the kind's ``to_rows``: TikTok's order objects ->
``Order`` rows with their grouped lines), then in one transaction per page,
as the runner does it, ``bulk_upsert`` of the orders on ``(shop, order_id)``
and ``orders_after_upsert`` (read back ids and last statuses, upsert the
lines on ``(order, sku_id)``, delete lines gone, insert the status changes).

The order objects are the sandbox's (``apps.sandbox.shop_data``), built
before the clock starts: 100 per page, the API's maximum. Two passes over the
same orders, in a throwaway test database created from ``DATABASE_URL``:

- **insert**: empty tables (every order, line and first status is new);
- **update**: the same orders three days later in the sandbox's time (every
  key exists; the orders that moved on get a new status and a history row).

Rows counted: orders plus line rows written (one per SKU of an order; TikTok
lists one line item per unit, and those are counted too, for reference).

Then the **webhook drain** (``--pushes``, 5,000 by default): an order-status
push per order, as TikTok sends them, stored in the inbox and drained with
the provider's answer served from memory (``orders_get`` patched to return
the sandbox's order objects: no HTTP, so the figure is the hub's own cost per
event: routing, the 50-a-call refetch's upsert, the event bookkeeping).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_orders.py
    .venv/bin/python bench/bench_orders.py --orders 5000      # SQLite
    .venv/bin/python bench/bench_orders.py --profile          # cProfile of the insert pass
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("INTEGRATIONS_SANDBOX", "true")

import django

django.setup()

from django.conf import settings
from django.db import connection, transaction
from django.test.utils import setup_test_environment
from django.utils import timezone

PAGE = 100
SHOP_ID = "7494049642642441621"
REGION = "GB"
#: The sandbox world's anchor (the seller's first grant), fixed so every run sees the same orders.
ANCHOR = 1_780_000_000
LATER = 3 * 86400


def order_pages(count: int, at: int, shop_pk: int) -> tuple[list[list[dict]], int]:
    """The sandbox's order objects at ``at``, in pages of 100, and their line items (units)."""
    from apps.sandbox import shop_data
    from apps.tiktok_shop.orders import SHOP_KEY

    orders = shop_data.shop_orders(SHOP_ID, REGION, ANCHOR, count)
    objects = [shop_data.order_object(orders, state) for state in shop_data.states_at(orders, at)]
    units = 0
    for item in objects:
        item[SHOP_KEY] = shop_pk
        units += len(item["line_items"])
    return [objects[i : i + PAGE] for i in range(0, len(objects), PAGE)], units


def make_shop():
    from apps.tenants.models import Tenant
    from apps.tiktok_shop.models import Shop, TikTokShopConnection

    tenant = Tenant.objects.create(slug="bench-shop", name="Bench shop")
    connection_row = TikTokShopConnection.objects.create(tenant=tenant, access_token="ROW_bench")
    shop = Shop.objects.create(
        tenant=tenant, connection=connection_row, shop_id=SHOP_ID, region=REGION, cipher="ROW_c"
    )
    return connection_row, shop


def run_pass(connection_row, pages: list[list[dict]]) -> tuple[int, int, float]:
    """Parse and write every page; (orders, line rows, seconds)."""
    from apps.integrations.upsert import bulk_upsert
    from apps.tiktok_shop.models import Order
    from apps.tiktok_shop.orders import ORDER_UNIQUE, order_rows, orders_after_upsert

    orders = lines = 0
    started = time.perf_counter()
    for page in pages:
        synced_at = timezone.now()
        converted = order_rows(connection=connection_row, items=page, synced_at=synced_at)
        with transaction.atomic():
            bulk_upsert(model=Order, rows=converted.rows, unique_fields=ORDER_UNIQUE)
            orders_after_upsert(connection=connection_row, rows=converted.rows, synced_at=synced_at)
        orders += len(converted.rows)
        lines += sum(len(row.lines) for row in converted.rows)
    return orders, lines, time.perf_counter() - started


def analyze_tables() -> None:
    """Refresh the planner's statistics after the insert pass, as autovacuum soon would.

    Without it PostgreSQL still plans the update pass's reads for the empty
    tables it saw before the insert pass (the two passes are seconds apart).
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in (
                "tiktok_shop_order",
                "tiktok_shop_orderline",
                "tiktok_shop_orderstatuschange",
            ):
                cursor.execute(f"ANALYZE {table}")


def settle_database() -> None:
    """Write out what earlier passes (or an earlier run) left dirty before the clock starts.

    Without it a PostgreSQL checkpoint triggered by the previous pass's writes
    can land in the middle of this one: back-to-back runs then measured 30 %
    slower than a run on a quiet server. Needs a superuser (skipped otherwise).
    """
    from django.db import DatabaseError, connection

    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:
        pass


def bench(count: int, *, profile: bool, profile_pass: str = "insert") -> tuple:  # noqa: S107
    from apps.tiktok_shop.models import Order, OrderLine, OrderStatusChange

    connection_row, shop = make_shop()
    for label, at in (("insert", ANCHOR + 60), ("update", ANCHOR + 60 + LATER)):
        pages, units = order_pages(count, at, shop.pk)
        if label == "update":
            analyze_tables()
        settle_database()
        profiler = cProfile.Profile() if profile and label == profile_pass else None
        if profiler:
            profiler.enable()
        orders, lines, elapsed = run_pass(connection_row, pages)
        if profiler:
            profiler.disable()
        rows = orders + lines
        print(
            f"  {label:<7} {orders:>7,} orders + {lines:>7,} line rows = {rows:>7,} rows "
            f"in {elapsed:6.2f}s: {rows / elapsed:>8,.0f} rows/s ({orders / elapsed:,.0f} orders/s)"
        )
        print(
            f"  {'':<7} counting TikTok's line items (one per unit, {units:,}) instead: "
            f"{(orders + units) / elapsed:>8,.0f} rows/s"
        )
        if profiler:
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
            print(text.getvalue())
    print(
        f"  stored: {Order.objects.count():,} orders, {OrderLine.objects.count():,} line rows, "
        f"{OrderStatusChange.objects.count():,} status changes"
    )
    return connection_row, shop


def drain_pass(connection_row, shop, pushes: int) -> None:
    """Order pushes for ``pushes`` orders, stored, then drained; the orders served from memory."""
    from apps.sandbox import shop_data
    from apps.tiktok_shop import webhooks as shop_webhooks
    from apps.tiktok_shop.client import TikTokShopClient
    from apps.webhooks.services import drain, events_store

    at = ANCHOR + 60 + 2 * LATER
    orders = shop_data.shop_orders(SHOP_ID, REGION, ANCHOR, pushes)
    states = shop_data.states_at(orders, at)[:pushes]
    served = {state.order_id: shop_data.order_object(orders, state) for state in states}
    for state in states:
        body = json.dumps(shop_data.order_status_event(orders, state, pushed_at=at)).encode()
        events_store(source_key=shop_webhooks.SOURCE_KEY, incoming=shop_webhooks.split(body))
    calls = []

    def orders_get(self, *, shop_cipher: str, order_ids: list[str]) -> list[dict]:
        calls.append(len(order_ids))
        return [dict(served[i]) for i in order_ids if i in served]

    original, TikTokShopClient.orders_get = TikTokShopClient.orders_get, orders_get
    settle_database()
    try:
        started = time.perf_counter()
        result = drain()
        elapsed = time.perf_counter() - started
    finally:
        TikTokShopClient.orders_get = original
    print(
        f"webhook drain: {result.claimed:,} order pushes in {elapsed:.2f}s: "
        f"{result.claimed / elapsed:,.0f} events/s ({result.processed:,} processed, "
        f"{len(calls):,} order fetches of up to {max(calls, default=0)} ids)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000, help="orders per pass")
    parser.add_argument("--pushes", type=int, default=5_000, help="order pushes to drain")
    parser.add_argument("--profile", action="store_true", help="cProfile the insert pass")
    parser.add_argument(
        "--profile-pass", choices=["insert", "update"], default="insert", help="which pass"
    )
    args = parser.parse_args()

    setup_test_environment(debug=False)
    logging.disable(logging.INFO)
    database = settings.DATABASES["default"]
    scratch = None
    if database["ENGINE"] == "django.db.backends.sqlite3":
        scratch = tempfile.TemporaryDirectory()
        database.setdefault("TEST", {})["NAME"] = str(Path(scratch.name) / "bench.sqlite3")
    else:
        # Our own name: the default test_<name> may be another benchmark's or test run's.
        database.setdefault("TEST", {})["NAME"] = f"test_bench_orders_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        version = connection.pg_version if connection.vendor == "postgresql" else None
        shown = f" {version // 10000}.{version % 10000}" if version else ""
        print(f"database={connection.vendor}{shown} page={PAGE} orders={args.orders:,}")
        print("parse and upsert (order_rows + bulk_upsert + orders_after_upsert, per page)")
        connection_row, shop = bench(
            args.orders, profile=args.profile, profile_pass=args.profile_pass
        )
        if args.pushes:
            drain_pass(connection_row, shop, min(args.pushes, args.orders))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if scratch is not None:
            scratch.cleanup()


if __name__ == "__main__":
    main()
