"""Acceptance 5: connect TikTok Shop, see the shop on the card, sync now, open an order.

Everything goes through a real browser and the sandbox answering over HTTP on
the live server. The django-q cluster does not run here: connecting and "Sync
now" queue the runs as in production, then the test does the worker's job and
executes the queued runs itself (``sync_run_execute``) while the card polls.
"""

import re

import pytest
from playwright.sync_api import expect

from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_execute
from apps.sandbox import generator, shop_data
from apps.tiktok_shop.models import Order

from .test_connect_browser import sandbox_on_live_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS_PER_SHOP = 120


@pytest.fixture
def small_shops(settings):
    settings.SANDBOX_SHOP_ORDERS_PER_SHOP = ORDERS_PER_SHOP
    shop_data.shop_orders.cache_clear()


def run_queued_syncs() -> list[SyncRun]:
    """What a qcluster worker would do with the runs connecting or "Sync now" queued."""
    runs = list(SyncRun.objects.filter(product="tiktok_shop", status=SyncRun.Status.QUEUED))
    assert runs, "nothing was queued"
    for run in sorted(runs, key=lambda r: r.pk):
        sync_run_execute(run_id=run.pk)
    return list(SyncRun.objects.filter(pk__in=[r.pk for r in runs]).order_by("pk"))


def test_connect_see_the_shops_sync_now_and_open_an_order(
    page,
    log_in,
    owner_a,
    small_shops,
    sandbox_on_live_server,  # noqa: F811
):
    log_in("owner@acme.example")
    page.goto("/integrations/?tab=tiktok")
    card = page.locator("#card-tiktok_shop")
    expect(card.get_by_text("Not connected")).to_be_visible()

    card.get_by_label("Orders and their line items").check()
    card.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("button", name="Authorize", exact=True)).to_be_visible()
    page.get_by_role("button", name="Authorize", exact=True).click()

    page.wait_for_url("**/integrations/?tab=tiktok")
    expect(page.get_by_text("TikTok Shop connected.")).to_be_visible()
    card = page.locator("#card-tiktok_shop")
    expect(card.locator(".badge").first).to_have_text("Connected")
    seller = generator.identities("tiktok_shop")[0].account_id
    shops = generator.shops(seller)
    for shop in shops:
        expect(card.get_by_text(shop["name"])).to_be_visible()
        expect(card.locator(f"[data-shop='{shop['id']}']")).to_contain_text(shop["region"])

    # Connecting queued the first sync: the card polls while it runs.
    expect(card.get_by_role("button", name="Syncing…")).to_be_disabled()
    runs = run_queued_syncs()
    orders_run = next(r for r in runs if r.kind == "orders")
    assert orders_run.status == SyncRun.Status.SUCCEEDED, orders_run.error
    total = Order.objects.count()
    assert total == ORDERS_PER_SHOP * len(shops)
    card = page.locator("#card-tiktok_shop")
    expect(card.get_by_role("button", name="Sync now")).to_be_visible(timeout=10_000)
    expect(card.get_by_text(f"{ORDERS_PER_SHOP} orders synced").first).to_be_visible()

    # Sync now: the runs are queued again and the card says so.
    card.get_by_role("button", name="Sync now").click()
    expect(page.locator("#card-tiktok_shop").get_by_text("Sync started.")).to_be_visible()
    again = next(r for r in run_queued_syncs() if r.kind == "orders")
    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert again.stats["created"] == 0

    page.locator("#card-tiktok_shop").get_by_role("link", name="Open the Orders page").click()
    page.wait_for_url("**/integrations/tiktok-shop/")
    expect(page.get_by_role("heading", name="TikTok Shop orders")).to_be_visible()
    expect(page.get_by_text(f"({total} orders)")).to_be_visible()

    # Filter by a status (htmx swaps the table), then open the first order.
    newest = Order.objects.order_by("-create_time", "-pk").first()
    page.get_by_label("Status").select_option(newest.status)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr.order-row").first).to_have_attribute("data-status", newest.status)
    link = page.locator("tr.order-row th a").first
    order_id = link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r".*/integrations/tiktok-shop/orders/\d+/.*"))
    expect(page.get_by_role("heading", name=f"Order {order_id}")).to_be_visible()
    order = Order.objects.get(order_id=order_id)
    line = order.lines.first()
    expect(page.locator("table.order-lines")).to_contain_text(line.seller_sku)
    expect(page.locator("ol.status-history li").first).to_contain_text(
        order.status_changes.order_by("changed_at").first().to_status
    )
