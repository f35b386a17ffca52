"""Stock from the catalog to TikTok Shop: on change (debounced) and every hour.

**What is sent.** For each shop, the listings matched to a catalog item get
the item's stock (capped at TikTok's 99,999) through
``POST /product/202309/products/{product_id}/inventory/update``: the endpoint
is per product, so SKUs are grouped by product and sent in batches of at most
:func:`batch_size` SKUs (``TIKTOK_SHOP_INVENTORY_BATCH_SIZE``, 100 by
default; the contract names no limit for this endpoint, 100 is the most SKUs
a TikTok product holds, and the setting lets an operator follow TikTok if it
says otherwise). Every warehouse of a SKU is sent, as TikTok requires: the
catalog's stock in the first, 0 in the others (see
:func:`~apps.tiktok_shop.products._stock_entries`). Listings rejected,
deleted or in draft are left out: TikTok takes stock only for live SKUs.
Each call is one :class:`~apps.catalog.models.StockPush` row with what was
sent, TikTok's answer and request id; ``code`` 0 with per-SKU
``data.errors`` is a partial success, recorded per listing.

**When: a periodic tick, not a signal.** Every minute :func:`push_changed_stock`
looks for shops with *due* listings (the item's stock differs from the
``pushed_stock`` TikTok last accepted, and no attempt failed since the stock
last changed) and queues one task per shop; the task sends whatever is due
when it runs. So any number of stock changes within the minute become one
push per shop (the debounce), nothing is lost if a queue message is (the
next tick finds the same listings again: state lives in the rows, not in
messages), and django-q2 needs no delayed-task feature it lacks. A change
that returns to the pushed value sends nothing. The cost is up to a minute
of latency. A per-shop lock (:data:`SHOP_LOCK_SECONDS`, in the shared cache)
keeps two workers from pushing one shop at once. Every hour
:func:`push_all_stock` sends every matched listing again, whatever changed,
which also retries the ones that failed and overwrites stock changed on
TikTok's side: the catalog is the source of truth.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from apps.catalog.models import Listing, ReviewStatus, StockPush
from apps.integrations.http import (
    PermissionDenied,
    ProviderError,
    RateLimited,
    TokenExpired,
)
from apps.integrations.models import ConnectionStatus
from apps.integrations.scheduling import PeriodicTask, enqueue, schedules
from apps.tenants.models import Tenant

from .models import Shop

logger = logging.getLogger(__name__)

CHANNEL = "tiktok_shop"
DEFAULT_BATCH_SIZE = 100
#: TikTok refuses quantities above this (update-inventory: 0 to 99,999).
MAX_QUANTITY = 99_999
#: How long one worker holds a shop while pushing; longer than a slow push of a big shop.
SHOP_LOCK_SECONDS = 300
#: Listings TikTok takes no stock for.
NOT_PUSHED = (ReviewStatus.REJECTED, ReviewStatus.DELETED, ReviewStatus.DRAFT)
#: Errors after which the shop's other batches would fail the same way: stop this shop.
STOPS_THE_SHOP = (TokenExpired, PermissionDenied, RateLimited)
#: Periodic tasks (django-q2 schedules, created after ``migrate``).
CHANGED_TASK = "tiktok_shop: push changed stock"
HOURLY_TASK = "tiktok_shop: push all stock"


def batch_size() -> int:
    return max(1, int(getattr(settings, "TIKTOK_SHOP_INVENTORY_BATCH_SIZE", DEFAULT_BATCH_SIZE)))


def register_schedules() -> None:
    schedules.register(
        PeriodicTask(CHANGED_TASK, "apps.tiktok_shop.inventory.push_changed_stock", minutes=1)
    )
    schedules.register(
        PeriodicTask(HOURLY_TASK, "apps.tiktok_shop.inventory.push_all_stock", minutes=60)
    )


# --- which listings ------------------------------------------------------------------------


def _pushable(listings: QuerySet[Listing]) -> QuerySet[Listing]:
    return listings.filter(catalog_item__isnull=False).exclude(review_status__in=NOT_PUSHED)


def _changed() -> Q:
    """Due: the stock differs from what TikTok accepted, and was not tried since it changed.

    A stock changed without moving ``stock_changed_at`` (a raw UPDATE instead of
    :func:`~apps.catalog.services.catalog_item_set_stock`) waits for the hourly push
    once an attempt was made.
    """
    differs = Q(pushed_stock__isnull=True) | ~Q(pushed_stock=F("catalog_item__stock"))
    not_tried = Q(stock_attempted_at__isnull=True) | Q(
        stock_attempted_at__lt=F("catalog_item__stock_changed_at")
    )
    return differs & not_tried


def due_listings(*, shop: Shop, only_changed: bool) -> list[Listing]:
    """The shop's matched listings to send (all, or only the changed ones), one query."""
    listings = _pushable(
        Listing.objects.filter(tenant_id=shop.tenant_id, channel=CHANNEL, account_ref=shop.shop_id)
    )
    if only_changed:
        listings = listings.filter(_changed())
    return list(
        listings.select_related("catalog_item").order_by("external_product_id", "external_sku_id")
    )


def batches(listings: Iterable[Listing], size: int) -> list[tuple[str, list[Listing]]]:
    """``(product id, listings)`` per call: grouped by product, at most ``size`` SKUs each."""
    by_product: dict[str, list[Listing]] = defaultdict(list)
    for listing in listings:
        by_product[listing.external_product_id].append(listing)
    return [
        (product_id, group[start : start + size])
        for product_id, group in by_product.items()
        for start in range(0, len(group), size)
    ]


def quantity_of(listing: Listing) -> int:
    return min(max(listing.catalog_item.stock, 0), MAX_QUANTITY)


# --- pushing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SkuError:
    sku_id: str
    message: str


def _sku_errors(data: dict) -> list[_SkuError]:
    """``data.errors[{code, message, detail{sku_id, extra_errors[]}}]`` per SKU."""
    errors = []
    for error in data.get("errors") or []:
        if not isinstance(error, dict):
            continue
        detail = error.get("detail") if isinstance(error.get("detail"), dict) else {}
        extra = "; ".join(
            f"{e.get('message', '')} ({e.get('code', '')})".strip()
            for e in detail.get("extra_errors") or []
            if isinstance(e, dict)
        )
        message = f"{error.get('message', '')} ({error.get('code', '')})"
        errors.append(
            _SkuError(
                sku_id=str(detail.get("sku_id") or ""),
                message=f"{message}: {extra}" if extra else message,
            )
        )
    return errors


def push_shop_stock(*, shop: Shop, trigger: str, only_changed: bool) -> list[StockPush]:
    """Send the due stock of one shop, batch by batch; one :class:`StockPush` per call.

    Returns the pushes recorded (empty when nothing was due, or another worker
    holds the shop: whatever is left stays due for the next tick).
    """
    lock = f"tiktok_shop:stock:{shop.pk}"
    token = uuid.uuid4().hex
    if not cache.add(lock, token, SHOP_LOCK_SECONDS):
        logger.info("tiktok_shop stock push shop=%s skipped: another worker holds it", shop.pk)
        return []
    try:
        return _push(shop=shop, trigger=trigger, only_changed=only_changed)
    finally:
        if cache.get(lock) == token:
            cache.delete(lock)


def _push(*, shop: Shop, trigger: str, only_changed: bool) -> list[StockPush]:
    from .products import WRITE_SCOPE, _stock_entries, scope_granted
    from .services import client_for

    if not scope_granted(shop.connection, WRITE_SCOPE):
        logger.info("tiktok_shop stock push shop=%s skipped: %s not granted", shop.pk, WRITE_SCOPE)
        return []
    listings = due_listings(shop=shop, only_changed=only_changed)
    if not listings:
        return []
    pushes: list[StockPush] = []
    with client_for(shop.connection) as client:
        for product_id, batch in batches(listings, batch_size()):
            sent = {listing.external_sku_id: quantity_of(listing) for listing in batch}
            skus = [
                {
                    "id": listing.external_sku_id,
                    "inventory": _stock_entries(
                        sent[listing.external_sku_id], (listing.extra or {}).get("inventory") or []
                    ),
                }
                for listing in batch
            ]
            started = timezone.now()
            Listing.objects.filter(pk__in=[listing.pk for listing in batch]).update(
                stock_attempted_at=started
            )
            try:
                data, request_id = client.inventory_update(
                    shop_cipher=shop.cipher, product_id=product_id, skus=skus
                )
            except ProviderError as exc:
                pushes.append(_failed(shop, product_id, batch, sent, trigger, exc))
                if isinstance(exc, STOPS_THE_SHOP) or exc.transient:
                    logger.warning(
                        "tiktok_shop stock push shop=%s stopped after %s: the rest stays due",
                        shop.pk,
                        type(exc).__name__,
                    )
                    break
                continue
            pushes.append(_answered(shop, product_id, batch, sent, trigger, data, request_id))
    logger.info(
        "tiktok_shop stock push shop=%s trigger=%s calls=%d skus=%d",
        shop.pk,
        trigger,
        len(pushes),
        sum(len(p.items) for p in pushes),
    )
    return pushes


def _answered(
    shop: Shop,
    product_id: str,
    batch: list[Listing],
    sent: dict[str, int],
    trigger: str,
    data: dict,
    request_id: str,
) -> StockPush:
    """Record a call TikTok answered with code 0: each SKU accepted unless ``data.errors`` names it."""
    errors = {error.sku_id: error.message for error in _sku_errors(data)}
    unnamed = [error.message for error in _sku_errors(data) if not error.sku_id]
    now = timezone.now()
    accepted, refused = [], []
    for listing in batch:
        message = errors.get(listing.external_sku_id) or (unnamed[0] if unnamed else "")
        if message:
            listing.stock_push_error = message
            refused.append(listing)
        else:
            listing.pushed_stock = sent[listing.external_sku_id]
            listing.channel_stock = sent[listing.external_sku_id]
            listing.stock_pushed_at = now
            listing.stock_push_error = ""
            accepted.append(listing)
    if accepted:
        Listing.objects.bulk_update(
            accepted, ["pushed_stock", "channel_stock", "stock_pushed_at", "stock_push_error"]
        )
    if refused:
        Listing.objects.bulk_update(refused, ["stock_push_error"])
    status = (
        StockPush.Status.SUCCEEDED
        if not refused
        else StockPush.Status.PARTIAL
        if accepted
        else StockPush.Status.FAILED
    )
    return StockPush.objects.create(
        tenant_id=shop.tenant_id,
        channel=CHANNEL,
        account_ref=shop.shop_id,
        external_product_id=product_id,
        trigger=trigger,
        items=sent,
        status=status,
        provider_answer=data,
        request_id=request_id,
        error="; ".join(
            f"{listing.external_sku_id}: {listing.stock_push_error}" for listing in refused
        ),
    )


def _failed(
    shop: Shop,
    product_id: str,
    batch: list[Listing],
    sent: dict[str, int],
    trigger: str,
    exc: ProviderError,
) -> StockPush:
    message = str(exc)
    Listing.objects.filter(pk__in=[listing.pk for listing in batch]).update(
        stock_push_error=message
    )
    return StockPush.objects.create(
        tenant_id=shop.tenant_id,
        channel=CHANNEL,
        account_ref=shop.shop_id,
        external_product_id=product_id,
        trigger=trigger,
        items=sent,
        status=StockPush.Status.FAILED,
        provider_answer={"code": exc.code} if exc.code else {},
        request_id=exc.request_id,
        error=message,
    )


# --- entry points -----------------------------------------------------------------------------


def _live_shops() -> Q:
    return Q(authorized=True) & ~Q(
        connection__status__in=[ConnectionStatus.DISCONNECTED, ConnectionStatus.EXPIRED]
    )


def push_stock(*, tenant: Tenant, account_ref: str, trigger: str) -> list[StockPush]:
    """The channel's entry point (Products page, "send stock now"): every matched SKU of a shop."""
    shop = (
        Shop.objects.for_tenant(tenant)
        .filter(_live_shops(), shop_id=account_ref)
        .select_related("connection")
        .first()
    )
    if shop is None:
        return []
    return push_shop_stock(shop=shop, trigger=trigger, only_changed=False)


def push_shop_stock_task(shop_id: int, trigger: str, only_changed: bool) -> int:
    """django-q2 task: one shop's push. Returns the SKUs sent."""
    shop = Shop.objects.filter(_live_shops(), pk=shop_id).select_related("connection").first()
    if shop is None:
        return 0
    pushes = push_shop_stock(shop=shop, trigger=trigger, only_changed=only_changed)
    return sum(len(push.items) for push in pushes)


def _enqueue_shops(*, shops: Iterable[int], trigger: str, only_changed: bool) -> int:
    count = 0
    for shop_id in shops:
        enqueue("apps.tiktok_shop.inventory.push_shop_stock_task", shop_id, trigger, only_changed)
        count += 1
    return count


def shops_with_changed_stock() -> list[int]:
    """Ids of live shops with at least one due listing; two queries whatever the number of shops."""
    refs = set(
        _pushable(Listing.objects.filter(channel=CHANNEL))
        .filter(_changed())
        .values_list("tenant_id", "account_ref")
        .distinct()
    )
    if not refs:
        return []
    tenant_ids = {tenant_id for tenant_id, _ref in refs}
    shops = Shop.objects.filter(_live_shops(), tenant_id__in=tenant_ids).values_list(
        "pk", "tenant_id", "shop_id"
    )
    return sorted(pk for pk, tenant_id, shop_id in shops if (tenant_id, shop_id) in refs)


def push_changed_stock() -> int:
    """Every minute: queue one push per shop whose catalog stock changed. Returns shops queued."""
    queued = _enqueue_shops(
        shops=shops_with_changed_stock(), trigger=StockPush.Trigger.CHANGE, only_changed=True
    )
    logger.info("tiktok_shop changed-stock tick queued=%d", queued)
    return queued


def push_all_stock() -> int:
    """Every hour: queue a full push of every live shop with matched listings."""
    refs = set(
        _pushable(Listing.objects.filter(channel=CHANNEL))
        .values_list("tenant_id", "account_ref")
        .distinct()
    )
    shops = [
        pk
        for pk, tenant_id, shop_id in Shop.objects.filter(_live_shops()).values_list(
            "pk", "tenant_id", "shop_id"
        )
        if (tenant_id, shop_id) in refs
    ]
    queued = _enqueue_shops(shops=shops, trigger=StockPush.Trigger.HOURLY, only_changed=False)
    logger.info("tiktok_shop hourly stock push queued=%d", queued)
    return queued
