"""Reads the Shop card and the Orders pages need, each with a fixed query budget.

- :func:`card_extras`: 2 queries (shops with their order counts, the last orders run).
- :func:`orders_list`: 2 queries (the count, the page with its shops).
- :func:`order_detail`: 3 queries (the order with its shop, its lines, its history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from apps.integrations.models import SyncRun
from apps.tenants.models import Tenant

from .models import Order, OrderLine, OrderStatusChange, Shop

ORDERS_PER_PAGE = 50


# --- card ---------------------------------------------------------------------------------


def card_extras(*, tenant: Tenant, connections: list) -> dict:
    """Shops (region, seller type, orders synced), the last orders run, the expiry notice.

    ``shops``: the tenant's shops of these connections, each with
    ``order_count``; ``orders_total``; ``orders_run``: the latest run of the
    ``orders`` kind (its stats are the card's "last sync"); ``authorization_
    expires_at``: the date of TikTok's upcoming-expiration notice, if one came.
    """
    connection_ids = [c.pk for c in connections]
    counts = (
        Order.objects.filter(shop=OuterRef("pk"))
        .order_by()
        .values("shop")
        .annotate(n=Count("pk"))
        .values("n")
    )
    shops = list(
        Shop.objects.for_tenant(tenant)
        .filter(connection_id__in=connection_ids)
        .annotate(order_count=Coalesce(Subquery(counts), 0))
        .order_by("-authorized", "name", "shop_id")
    )
    orders_run = (
        SyncRun.objects.for_tenant(tenant)
        .filter(product="tiktok_shop", kind="orders", connection_id__in=connection_ids)
        .order_by("-created_at", "-pk")
        .first()
    )
    expires = next(
        (
            c.assets.get("authorization_expires_at")
            for c in connections
            if (c.assets or {}).get("authorization_expires_at")
        ),
        None,
    )
    return {
        "shops": shops,
        "orders_total": sum(shop.order_count for shop in shops),
        "orders_run": orders_run,
        "authorization_expires_at": datetime.fromisoformat(expires) if expires else None,
    }


# --- orders ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    shop: int | None = None


def orders_list(*, tenant: Tenant, filters: OrderFilters, page: int) -> Page:
    """The tenant's orders, newest first, filtered by status, creation day and shop."""
    orders = Order.objects.for_tenant(tenant).select_related("shop")
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.date_from:
        orders = orders.filter(create_time__date__gte=filters.date_from)
    if filters.date_to:
        orders = orders.filter(create_time__date__lte=filters.date_to)
    if filters.shop:
        orders = orders.filter(shop_id=filters.shop)
    orders = orders.only(
        "pk",
        "order_id",
        "status",
        "create_time",
        "update_time",
        "currency",
        "total_amount",
        "item_count",
        "shop__name",
        "shop__shop_id",
        "shop__region",
    ).order_by("-create_time", "-pk")
    return Paginator(orders, ORDERS_PER_PAGE).get_page(page)


def order_shops(*, tenant: Tenant) -> list[Shop]:
    """The shops to filter by (one query)."""
    return list(Shop.objects.for_tenant(tenant).order_by("name", "shop_id"))


@dataclass(frozen=True)
class OrderDetail:
    order: Order
    lines: list[OrderLine]
    history: list[OrderStatusChange]


def order_detail(*, tenant: Tenant, pk: int) -> OrderDetail:
    """One order of the tenant (404 for another tenant's), its lines and its history."""
    order = get_object_or_404(Order.objects.for_tenant(tenant).select_related("shop"), pk=pk)
    return OrderDetail(
        order=order,
        lines=list(OrderLine.objects.filter(order=order).order_by("pk")),
        history=list(OrderStatusChange.objects.filter(order=order).order_by("changed_at", "pk")),
    )
