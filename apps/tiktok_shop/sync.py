"""TikTok Shop sync kinds, run by the shared runner (one page, one upsert, one checkpoint).

**orders**: ``POST /order/202309/orders/search`` by update-time window, sorted
by ``update_time`` ascending, 100 orders a page (the API's maximum), every 15
minutes. What is particular to TikTok Shop stays here:

- **Shops.** One authorization covers several shops, each searched with its
  own ``shop_cipher``. The walk goes shop by shop in ``shop_id`` order; the
  cursor names the shop by id and holds TikTok's ``next_page_token``, so a
  killed run resumes on the same page of the same shop. At the start of each
  window the shop list is asked again (one call), so a shop added to the
  authorization is picked up and a removed one is left alone.
- **Windows.** ``update_time_ge`` / ``update_time_lt`` are the run's window in
  Unix seconds. An incremental run starts at the last high-water mark (the
  newest ``update_time`` stored) minus :data:`ORDERS_OVERLAP`; the first run
  has no lower bound (TikTok then starts at the shop's first day). Backfills
  (``manage.py backfill tiktok_shop orders --since DATE``) are cut into
  :data:`ORDERS_WINDOW_STEP` pieces, which is what their progress counts.
- **Rows.** Orders land on ``(shop, order_id)``; their lines and status
  history are written by :func:`~.orders.orders_after_upsert` in the same
  transaction as the page's checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

from apps.integrations.sync import Page, SyncKind, SyncWindow

from .client import ORDERS_MAX_PAGE_SIZE
from .models import Shop, TikTokShopConnection
from .orders import (
    ORDER_UNIQUE,
    SHOP_KEY,
    order_rows,
    orders_after_upsert,
    unix_seconds,
    unix_time,
)

PRODUCT = "tiktok_shop"
ORDERS_PAGE_SIZE = ORDERS_MAX_PAGE_SIZE
#: Incremental runs re-read this much before the last high-water mark: orders TikTok
#: writes late or with a skewed clock, and pages racing a webhook refetch.
ORDERS_OVERLAP = timedelta(minutes=10)
#: Backfill windows are cut into pieces of this size (progress is shown per piece).
ORDERS_WINDOW_STEP = timedelta(days=7)
ORDERS_SCHEDULE_MINUTES = 15


def _shop_position(shops: list[Shop], cursor: dict) -> tuple[int, str]:
    """(index of the shop to search, page token) for ``{"shop": id, "page_token": t}``.

    A shop that is gone from the list (deauthorized mid-run) is passed over:
    the walk goes on with the next id, from its first page.
    """
    current = cursor.get("shop")
    if current is None:
        return 0, ""
    for index, shop in enumerate(shops):
        if shop.shop_id == current:
            return index, str(cursor.get("page_token") or "")
        if shop.shop_id > current:
            return index, ""
    return len(shops), ""


def fetch_orders(*, connection: TikTokShopConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page of one shop's order search within the window (a :func:`walk_shops` walk)."""
    from .services import client_for

    def fetch(shop: Shop, token: str) -> tuple[list[dict], str, int | None]:
        with client_for(connection) as client:
            page = client.orders_search(
                shop_cipher=shop.cipher,
                page_size=ORDERS_PAGE_SIZE,
                page_token=token,
                update_time_ge=unix_seconds(window.start),
                update_time_lt=unix_seconds(window.end),
            )
        return page.orders, page.next_page_token, page.total_count

    return walk_shops(
        connection=connection,
        cursor=cursor,
        fetch=fetch,
        time_of=lambda order: unix_time(order.get("update_time")),
        page_size=ORDERS_PAGE_SIZE,
    )


def walk_shops(
    *,
    connection: TikTokShopConnection,
    cursor: dict,
    fetch: Callable[[Shop, str], tuple[list[dict], str, int | None]],
    time_of: Callable[[dict], datetime | None],
    page_size: int,
) -> Page:
    """One page of a shop-by-shop walk (orders, returns, finance).

    ``fetch(shop, page_token)`` asks TikTok for one page of one shop and
    returns ``(items, next_page_token, total_count)``; each item is stamped
    with the shop's pk under :data:`~.orders.SHOP_KEY`. The shop list is asked
    again at the start of each window (one call), as for orders.
    """
    from .services import shops_authorized, shops_refresh

    if cursor:
        shops = shops_authorized(connection=connection)
    else:
        shops = sorted(
            (s for s in shops_refresh(connection=connection) if s.authorized),
            key=lambda s: s.shop_id,
        )
    index, token = _shop_position(shops, cursor)
    if index >= len(shops):
        return Page(items=[], next_cursor=None)
    shop = shops[index]
    items, next_token, total = fetch(shop, token)
    for item in items:
        item[SHOP_KEY] = shop.pk
    if next_token:
        next_cursor = {"shop": shop.shop_id, "page_token": next_token}
    elif index + 1 < len(shops):
        next_cursor = {"shop": shops[index + 1].shop_id, "page_token": ""}
    else:
        next_cursor = None
    times = [t for t in (time_of(item) for item in items) if t is not None]
    return Page(
        items=items,
        next_cursor=next_cursor,
        high_water=max(times, default=None),
        total_pages=math.ceil(total / page_size) if total else None,
    )


SYNC_KINDS = [
    SyncKind(
        product=PRODUCT,
        kind="orders",
        label=_("Orders"),
        model="tiktok_shop.Order",
        unique_fields=ORDER_UNIQUE,
        fetch_page=fetch_orders,
        to_rows=order_rows,
        after_upsert=orders_after_upsert,
        incremental=True,
        overlap=ORDERS_OVERLAP,
        window_step=ORDERS_WINDOW_STEP,
        schedule_minutes=ORDERS_SCHEDULE_MINUTES,
    )
]


def _operations_kinds() -> list[SyncKind]:
    """Returns and finance (issue #6), defined next to their services."""
    from .finance import FINANCE_SYNC_KINDS
    from .returns import RETURNS_SYNC_KINDS

    return [*RETURNS_SYNC_KINDS, *FINANCE_SYNC_KINDS]


SYNC_KINDS += _operations_kinds()


def _customer_service_kinds() -> list[SyncKind]:
    """Buyer conversations into the leads inbox (issue #6), defined in ``customer_service``."""
    from .customer_service import CUSTOMER_SERVICE_SYNC_KINDS

    return list(CUSTOMER_SERVICE_SYNC_KINDS)


SYNC_KINDS += _customer_service_kinds()
