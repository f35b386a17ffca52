"""Orders sync through the sandbox: every order exactly, few calls, constant queries per page.

Acceptance 3: 10,000 sandbox orders take ceil(10,000 / 100) + a handful of API
calls and a constant number of queries per page; a rerun creates nothing new;
a run killed after page k and rerun ends with exactly the sandbox's orders.
"""

from __future__ import annotations

import io
import math
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_kinds, sync_run_for_connection_now
from apps.sandbox import shop_data
from apps.tiktok_shop import sync as shop_sync
from apps.tiktok_shop.client import ORDERS_MAX_PAGE_SIZE
from apps.tiktok_shop.models import Order, OrderLine, OrderStatusChange, Shop

from .conftest import sandbox_shops as shop_data_shops
from .conftest import sandbox_truth
from .conftest import seller_account as seller

pytestmark = pytest.mark.django_db

SEARCH = "/order/202309/orders/search"


def run_orders(connection, **kwargs) -> SyncRun:
    return sync_run_for_connection_now(
        connection=connection, kind="orders", trigger=SyncRun.Trigger.MANUAL, **kwargs
    )


#: Statements that are not the sync's work: the in-process sandbox and the database
#: cache (rate budget, fault counters) share the connection, with their savepoints.
NOT_THE_HUBS = ("sandbox_", "hub_cache", "SAVEPOINT")


def hub_queries(captured: list[dict]) -> list[str]:
    return [q["sql"] for q in captured if not any(text in q["sql"] for text in NOT_THE_HUBS)]


def run_counting_queries(connection) -> tuple[SyncRun, list[int]]:
    """Run the orders kind; the hub's queries of every page, counted page by page."""
    per_page: list[int] = []
    capture = CaptureQueriesContext(db)
    capture.__enter__()

    def on_page(progress):
        per_page.append(len(hub_queries(capture.captured_queries)))
        capture.initial_queries = len(db.queries_log)  # count the next page afresh

    try:
        run = run_orders(connection, on_page=on_page)
    finally:
        capture.__exit__(None, None, None)
    return run, per_page


def stored() -> dict[str, tuple[str, int]]:
    return {
        order_id: (status, int(updated.timestamp()))
        for order_id, status, updated in Order.objects.values_list(
            "order_id", "status", "update_time"
        )
    }


@pytest.fixture
def ten_thousand(settings):
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = 5000  # two shops per seller
    shop_data.shop_orders.cache_clear()


def test_ten_thousand_orders_in_few_calls_and_constant_queries_per_page(
    ten_thousand, shop_connection, sandbox
):
    truth = sandbox_truth()
    assert len(truth) == 10_000
    sandbox.clear()
    run, per_page = run_counting_queries(shop_connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert stored() == truth
    calls = sandbox.calls(SEARCH)
    assert calls <= math.ceil(10_000 / ORDERS_MAX_PAGE_SIZE) + 2
    assert sandbox.calls() <= calls + 5  # the shop list, a refresh at most
    assert run.stats == {
        "fetched": 10_000,
        "created": 10_000,
        "updated": 0,
        "skipped": 0,
        "errors": 0,
    }
    # The same number of queries for every full page, whatever the page holds.
    full_pages = per_page[1:-1]
    assert len(set(full_pages)) == 1, per_page
    # The shop, the call log, the read-backs of orders and lines, the checkpoint, and three
    # upserts (orders, lines, status changes) of at most 4 statements each on PostgreSQL
    # (staging table until one is committed, emptying it when this transaction already
    # filled it, COPY, INSERT) or 2 on SQLite (key count, executemany).
    upsert = 4 if db.vendor == "postgresql" else 2
    assert max(per_page[1:]) <= 4 + 3 * upsert, per_page
    assert OrderLine.objects.count() > 10_000
    assert OrderStatusChange.objects.count() == 10_000  # one initial status each

    again, again_per_page = run_counting_queries(shop_connection)
    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert again.stats["created"] == 0
    assert max(again_per_page[1:]) <= max(per_page[1:]), again_per_page
    assert Order.objects.count() == 10_000
    assert OrderStatusChange.objects.count() == 10_000


@pytest.fixture
def some_orders(settings):
    """250 orders a shop: three pages each, six pages in all."""
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = 250
    shop_data.shop_orders.cache_clear()


class Killed(Exception):
    pass


def test_a_run_killed_after_page_k_resumes_and_ends_with_exactly_the_sandboxs_orders(
    some_orders, shop_connection, sandbox
):
    truth = sandbox_truth()
    pages_done = []

    def die_after_page_4(progress):
        pages_done.append(progress.page)
        if len(pages_done) == 4:
            raise Killed("worker killed after page 4")

    first = run_orders(shop_connection, on_page=die_after_page_4)

    assert first.status == SyncRun.Status.FAILED
    assert "worker killed" in first.error
    assert first.stats["fetched"] == 350  # 100 + 100 + 50 of the first shop, 100 of the second
    assert 0 < Order.objects.count() < len(truth)
    searches_before = sandbox.calls(SEARCH)

    second = run_orders(shop_connection)

    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert second.checkpoint["resumed_from"] == first.pk
    assert stored() == truth
    # Only the two pages not done yet were asked for again.
    assert sandbox.calls(SEARCH) - searches_before == 2
    assert second.stats["fetched"] == 150 and second.stats["created"] == 150
    assert OrderStatusChange.objects.count() == len(truth)


def test_a_provider_failure_mid_run_fails_it_and_the_rerun_completes(
    some_orders, shop_connection, sandbox, settings
):
    sandbox.inject(provider="tiktok_shop", path_contains=SEARCH, kind="500", times=4, after=3)
    first = run_orders(shop_connection)
    assert first.status == SyncRun.Status.FAILED
    assert "36009003" in first.error

    second = run_orders(shop_connection)

    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert stored() == sandbox_truth()


def test_an_incremental_run_fetches_what_moved_and_records_the_status_changes(
    some_orders, shop_connection, sandbox, frozen_clock
):
    # The hub cuts windows at its own clock: the sandbox must not run ahead of it, so the
    # first sync happens two days back in the sandbox's time, the second "now".
    now = timezone.now().replace(microsecond=0)
    frozen_clock.set(now - timedelta(days=2))
    first = run_orders(shop_connection)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    before = stored()
    frozen_clock.set(now)  # two days later, orders have moved on (and new ones came)
    truth = sandbox_truth()
    moved = {oid for oid, value in truth.items() if oid in before and before[oid] != value}
    assert moved, "the sandbox's orders should move over two days"

    second = run_orders(shop_connection)

    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert stored() == truth
    # The window starts at the last high-water mark minus the overlap, not at the beginning.
    high_water = max(updated for _, updated in before.values())
    assert second.window_start.timestamp() == high_water - shop_sync.ORDERS_OVERLAP.seconds
    assert second.stats["fetched"] < len(truth)
    assert second.stats["created"] == len(set(truth) - set(before))
    assert second.stats["updated"] >= len(moved)
    changes = OrderStatusChange.objects.filter(source="sync").exclude(from_status="")
    assert {c.order.order_id for c in changes.select_related("order")} == moved
    sample = changes.select_related("order").first()
    assert sample.from_status == before[sample.order.order_id][0]
    assert sample.to_status == truth[sample.order.order_id][0]


def test_a_page_is_upserted_with_its_lines_grouped_per_sku(few_orders, shop_connection, sandbox):
    run = run_orders(shop_connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    shop = Shop.objects.order_by("shop_id").first()
    generated = next(s for s in shop_data_shops() if s["id"] == shop.shop_id)
    orders = shop_data.orders_for(generated, seller())
    state = shop_data.states_at(orders, shop_data.now_seconds())[0]
    expected = shop_data.order_object(orders, state)
    order = Order.objects.get(shop=shop, order_id=state.order_id)

    units: dict[str, int] = {}
    for item in expected["line_items"]:
        units[item["sku_id"]] = units.get(item["sku_id"], 0) + 1
    lines = {line.sku_id: line for line in order.lines.all()}
    assert {sku: line.quantity for sku, line in lines.items()} == units
    assert order.item_count == len(expected["line_items"])
    assert str(order.total_amount) == expected["payment"]["total_amount"]
    assert order.currency == expected["payment"]["currency"]


def test_the_kind_is_registered_incremental_every_15_minutes_with_overlap():
    kind = sync_kinds.get("tiktok_shop", "orders")
    assert kind.incremental is True
    assert kind.schedule_minutes == 15
    assert kind.overlap.total_seconds() > 0
    assert kind.unique_fields == ("shop", "order_id")


def test_backfill_command_reports_progress_and_resumes(
    some_orders, shop_connection, sandbox, frozen_clock, tenant_a
):
    # Connecting queued first runs that no worker executes in this test.
    SyncRun.objects.filter(status=SyncRun.Status.QUEUED).delete()
    since = (frozen_clock.now().date()).replace(day=1)
    out = io.StringIO()
    sandbox.inject(provider="tiktok_shop", path_contains=SEARCH, kind="500", times=4, after=2)

    with pytest.raises(CommandError, match="failed"):
        call_command(
            "backfill", "tiktok_shop", "orders", "--tenant", tenant_a.slug, "--since",
            since.isoformat(), stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
    failed = SyncRun.objects.get(trigger=SyncRun.Trigger.BACKFILL)
    assert failed.status == SyncRun.Status.FAILED
    assert "page" in out.getvalue()

    again = io.StringIO()
    call_command(
        "backfill", "tiktok_shop", "orders", "--tenant", tenant_a.slug, "--since",
        since.isoformat(), stdout=again,
    )  # fmt: skip

    run = SyncRun.objects.filter(trigger=SyncRun.Trigger.BACKFILL).order_by("-pk").first()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert f"resuming run #{failed.pk}" in again.getvalue()
    window_start = int(run.window_start.timestamp())
    expected = {k: v for k, v in sandbox_truth().items() if v[1] >= window_start}
    assert expected
    assert {k: v for k, v in stored().items() if v[1] >= window_start} == expected
