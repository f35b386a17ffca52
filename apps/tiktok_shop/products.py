"""TikTok Shop products: pulled into the catalog's listings, pushed from catalog items.

**Pull** (sync kind ``products``): ``POST /product/202309/products/search``,
100 products a page (the API's maximum), shop by shop in ``shop_id`` order
(the cursor names the shop and holds TikTok's ``next_page_token``). Every SKU
of every product becomes one :class:`~apps.catalog.models.Listing`, upserted
on (tenant, channel, shop, SKU id) and matched to the catalog item with the
same seller SKU: one query per page for the matching, none per row.
Incremental runs ask for ``update_time_ge`` the last high-water mark minus
:data:`PRODUCTS_OVERLAP`.

**Review status** comes from the product's ``status`` and ``audit.status``
(:func:`review_of`). The search does not say *why* a product was rejected:
for a ``FAILED`` product whose ``update_time`` moved since we last stored it,
``GET /product/202309/products/{id}`` is asked for its
``audit_failed_reasons`` (one call per newly rejected product; the stored
reasons are kept otherwise). Webhook type 5 (:func:`on_product_status_webhook`)
refetches the product the same way, so a verdict shows within seconds.

**Push** (:func:`push_catalog_item`): a catalog item becomes a new product
(``POST /product/202309/products``) or, once listed in that shop, a full
replace of its product (``PUT /product/202309/products/{id}``). What TikTok
requires and the catalog may lack (category per channel, an image, the package
weight, a price in the shop's currency, a stock of at least 1 for a new
product) is checked first and refused with every problem listed, nothing sent.
Images are fetched from the catalog's URLs and uploaded (TikTok takes no
image URL). Each attempt that reached TikTok is an audit entry.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.catalog.channels import (
    Channel,
    ChannelAccount,
    PushFailed,
    PushOutcome,
    PushRefused,
    channels,
)
from apps.catalog.models import CatalogItem, Listing, PushResult, ReviewStatus
from apps.catalog.selectors import LATEST_FIRST as LATEST_LISTING_FIRST
from apps.integrations.http import PermissionDenied, ProviderError, RateLimited, TokenExpired
from apps.integrations.models import AuditEntry
from apps.integrations.sync import (
    Page,
    Rows,
    Skip,
    SkipItem,
    SyncKind,
    SyncWindow,
    sync_kinds,
)
from apps.integrations.upsert import bulk_upsert
from apps.tenants.models import Tenant

from .client import TikTokShopClient
from .models import Shop, TikTokShopConnection

logger = logging.getLogger(__name__)

PRODUCT = CHANNEL = "tiktok_shop"
PRODUCTS_PAGE_SIZE = TikTokShopClient.PRODUCTS_MAX_PAGE_SIZE
#: Incremental runs re-read this much before the last high-water mark (late writes, skew).
PRODUCTS_OVERLAP = timedelta(minutes=10)
PRODUCTS_SCHEDULE_MINUTES = 60
LISTING_UNIQUE = ("tenant", "channel", "account_ref", "external_sku_id")
#: What the Catalog pack grants: reading products, and writing products and stock.
READ_SCOPE = "seller.product.basic"
WRITE_SCOPE = "seller.product.write"

#: TikTok's limits on what a push sends (contract §3.6 and the create-product page).
MAX_MAIN_IMAGES = 9
MAX_SELLER_SKU = 50
MAX_TITLE = 255
MAX_DESCRIPTION = 10_000
MAX_QUANTITY = 99_999
WEIGHT_UNIT = "KILOGRAM"
#: The currency each TikTok Shop market sells in; an item priced otherwise is refused.
REGION_CURRENCY = {
    "US": "USD",
    "GB": "GBP",
    "ID": "IDR",
    "TH": "THB",
    "MY": "MYR",
    "PH": "PHP",
    "VN": "VND",
    "SG": "SGD",
    "MX": "MXN",
    "BR": "BRL",
    "JP": "JPY",
    "ES": "EUR",
    "DE": "EUR",
    "FR": "EUR",
    "IT": "EUR",
    "IE": "EUR",
}

#: ``status`` of a product (202309) -> review status. ``SELLER_DEACTIVATED`` passed review.
STATUS_REVIEW = {
    "DRAFT": ReviewStatus.DRAFT,
    "PENDING": ReviewStatus.PENDING,
    "FAILED": ReviewStatus.REJECTED,
    "ACTIVATE": ReviewStatus.APPROVED,
    "SELLER_DEACTIVATED": ReviewStatus.APPROVED,
    "PLATFORM_DEACTIVATED": ReviewStatus.SUSPENDED,
    "FREEZE": ReviewStatus.SUSPENDED,
    "DELETED": ReviewStatus.DELETED,
}
#: ``audit.status`` -> review status, when ``status`` says nothing more precise.
AUDIT_REVIEW = {
    "AUDITING": ReviewStatus.PENDING,
    "PRE_APPROVED": ReviewStatus.PENDING,
    "APPROVED": ReviewStatus.APPROVED,
    "REJECTED": ReviewStatus.REJECTED,
    "FAILED": ReviewStatus.REJECTED,
}
#: Webhook type 5 ``data.status`` -> review status (``PRODUCT_STATUS_CHANGED`` says nothing).
WEBHOOK_REVIEW = {
    "PRODUCT_FIRST_PASS_REVIEW": ReviewStatus.APPROVED,
    "PRODUCT_AUDIT_FAILURE": ReviewStatus.REJECTED,
}


# --- registration ------------------------------------------------------------------------


def register() -> None:
    """Called once from ``AppConfig.ready()``: the channel, the sync kind, the stock schedules."""
    from . import inventory

    channels.register(
        Channel(
            key=CHANNEL,
            label=gettext_lazy("TikTok Shop"),
            push_item_path="apps.tiktok_shop.products.push_catalog_item",
            push_stock_path="apps.tiktok_shop.inventory.push_stock",
            accounts_path="apps.tiktok_shop.products.channel_accounts",
        )
    )
    sync_kinds.register(PRODUCTS_SYNC_KIND)
    inventory.register_schedules()


def channel_accounts(*, tenant: Tenant) -> list[ChannelAccount]:
    """The tenant's authorized shops, one query; ``live`` when their connection works."""
    shops = (
        Shop.objects.for_tenant(tenant)
        .filter(authorized=True)
        .select_related("connection")
        .order_by("name", "shop_id")
    )
    return [
        ChannelAccount(ref=shop.shop_id, label=_shop_label(shop), live=shop.connection.is_live)
        for shop in shops
    ]


def _shop_label(shop: Shop) -> str:
    """The shop's name, with its region when the name does not already end with it."""
    name = shop.name or shop.shop_id
    if shop.region and not name.endswith(shop.region):
        return f"{name} ({shop.region})"
    return name


def scope_granted(connection: TikTokShopConnection, scope: str) -> bool:
    """Whether the seller granted ``scope``; an unknown grant (no scopes stored) is not refused."""
    granted = connection.granted_scopes or []
    return not granted or scope in granted


# --- reading TikTok's product objects ----------------------------------------------------


def _text(value: Any, max_length: int) -> str:
    return "" if value is None else str(value)[:max_length]


def _unix(value: Any) -> datetime | None:
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


def _money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and abs(amount) < Decimal("1e10") else None


def _quantity(value: Any) -> int:
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def review_of(product: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``(review status, reasons)`` of a product object (search, detail).

    ``status`` decides when it is precise; ``audit.status`` otherwise. Reasons
    are ``audit_failed_reasons`` (detail only: each reason with TikTok's
    suggestion) for a rejected product and ``audit.pre_approved_reasons``
    for one in review.
    """
    status = str(product.get("status") or product.get("product_status") or "").upper()
    audit = product.get("audit") if isinstance(product.get("audit"), Mapping) else {}
    review = STATUS_REVIEW.get(status)
    if review is None:
        review = AUDIT_REVIEW.get(str(audit.get("status") or "").upper(), ReviewStatus.UNKNOWN)
    reasons: list[str] = []
    if review == ReviewStatus.REJECTED:
        reasons = failed_reasons(product.get("audit_failed_reasons"))
    elif review == ReviewStatus.PENDING:
        reasons = [str(r) for r in audit.get("pre_approved_reasons") or [] if r]
    return review, reasons


def failed_reasons(entries: Any) -> list[str]:
    """``audit_failed_reasons[{position, reasons[], suggestions[]}]`` as one line per reason."""
    lines: list[str] = []
    for entry in entries or []:
        if not isinstance(entry, Mapping):
            continue
        suggestions = [str(s) for s in entry.get("suggestions") or [] if s]
        for reason in entry.get("reasons") or []:
            line = str(reason)
            if suggestions:
                line = f"{line} — {' '.join(suggestions)}"
            lines.append(line)
    return lines


# --- the products sync kind --------------------------------------------------------------


def _shop_position(shops: list[Shop], cursor: Mapping[str, Any]) -> tuple[int, str]:
    """(index of the shop to read, page token) for ``{"shop": id, "page_token": t}``.

    A shop gone from the list mid-run is passed over: the walk goes on with the
    next id, from its first page.
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


def fetch_products(*, connection: TikTokShopConnection, cursor: dict, window: SyncWindow) -> Page:
    """One page of one shop's products, flattened to one item per SKU.

    Each item is the product's fields plus ``sku`` (one of its SKUs) and
    ``shop_id``; rejected products carry the reasons of their detail.
    """
    from .services import client_for, shops_authorized

    if not scope_granted(connection, READ_SCOPE):
        logger.info(
            "tiktok_shop products sync connection=%s skipped: %s not granted (no Catalog pack)",
            connection.pk,
            READ_SCOPE,
        )
        return Page(items=[], next_cursor=None)
    shops = shops_authorized(connection=connection)
    index, token = _shop_position(shops, cursor)
    if index >= len(shops):
        return Page(items=[], next_cursor=None)
    shop = shops[index]
    since = int(window.start.timestamp()) if window.start else None
    until = int(window.end.timestamp()) if window.end else None
    with client_for(connection) as client:
        data = client.products_search(
            shop_cipher=shop.cipher,
            page_size=PRODUCTS_PAGE_SIZE,
            page_token=token,
            update_time_ge=since,
            update_time_le=until,
        )
        products = [dict(p) for p in data.get("products") or [] if isinstance(p, Mapping)]
        _add_rejection_reasons(client=client, shop=shop, products=products)
    next_token = str(data.get("next_page_token") or "")
    if next_token and next_token == token:
        raise ProviderError(f"TikTok Shop returned the same page_token twice for shop {shop}")
    if next_token:
        next_cursor: dict | None = {"shop": shop.shop_id, "page_token": next_token}
    elif index + 1 < len(shops):
        next_cursor = {"shop": shops[index + 1].shop_id, "page_token": ""}
    else:
        next_cursor = None
    times = [t for t in (_unix(p.get("update_time")) for p in products) if t is not None]
    return Page(
        items=flatten(products, shop_id=shop.shop_id),
        next_cursor=next_cursor,
        high_water=max(times, default=None),
    )


def flatten(products: Iterable[Mapping[str, Any]], *, shop_id: str) -> list[dict]:
    """One item per SKU (a product without SKUs stays one item, refused by the converter)."""
    items = []
    for product in products:
        base = {key: value for key, value in product.items() if key != "skus"}
        base["shop_id"] = shop_id
        skus = [s for s in product.get("skus") or [] if isinstance(s, Mapping)]
        if skus:
            items.extend({**base, "sku": dict(sku)} for sku in skus)
        else:
            items.append(base)
    return items


def _add_rejection_reasons(*, client: TikTokShopClient, shop: Shop, products: list[dict]) -> None:
    """Fetch ``audit_failed_reasons`` of products newly rejected since we last stored them.

    One query for what we stored of the page's rejected products; one detail
    call per rejected product whose ``update_time`` moved (or never stored).
    Products already carrying reasons (a detail answer) are left as they are.
    """
    rejected = {
        str(p.get("id")): p
        for p in products
        if review_of(p)[0] == ReviewStatus.REJECTED and "audit_failed_reasons" not in p
    }
    if not rejected:
        return
    stored = {
        product_id: (updated_at, reasons)
        for product_id, updated_at, reasons in Listing.objects.filter(
            tenant_id=shop.tenant_id,
            channel=CHANNEL,
            account_ref=shop.shop_id,
            external_product_id__in=list(rejected),
        ).values_list("external_product_id", "external_updated_at", "review_reasons")
    }
    for product_id, product in rejected.items():
        updated_at, reasons = stored.get(product_id, (None, []))
        if updated_at is not None and updated_at == _unix(product.get("update_time")) and reasons:
            product["audit_failed_reasons"] = [{"reasons": reasons}]
            continue
        detail = client.product_get(shop_cipher=shop.cipher, product_id=product_id)
        product["audit_failed_reasons"] = detail.get("audit_failed_reasons") or []


def _inventory(sku: Mapping[str, Any]) -> list[dict]:
    return [
        {
            "warehouse_id": str(row.get("warehouse_id") or ""),
            "quantity": _quantity(row.get("quantity")),
        }
        for row in sku.get("inventory") or []
        if isinstance(row, Mapping)
    ]


def listing_row(*, tenant_id: int, item: Mapping[str, Any], synced_at: datetime) -> dict:
    """The Listing columns of one SKU item (see :func:`flatten`); ``catalog_item_id`` left out."""
    sku = item.get("sku")
    if not isinstance(sku, Mapping):
        raise SkipItem("product without SKUs")
    product_id = _text(item.get("id"), 64)
    sku_id = _text(sku.get("id"), 64)
    if not product_id or not sku_id:
        raise SkipItem("no product id or SKU id")
    price = sku.get("price") if isinstance(sku.get("price"), Mapping) else {}
    inventory = _inventory(sku)
    review, reasons = review_of(item)
    return {
        "tenant_id": tenant_id,
        "channel": CHANNEL,
        "account_ref": _text(item.get("shop_id"), 64),
        "external_product_id": product_id,
        "external_sku_id": sku_id,
        "seller_sku": _text(sku.get("seller_sku"), 64).strip(),
        "title": _text(item.get("title"), 255),
        "status": _text(item.get("status") or item.get("product_status"), 32),
        "review_status": review,
        "review_reasons": reasons,
        "price": _money(
            price.get("sale_price") or price.get("tax_exclusive_price") or price.get("amount")
        ),
        "currency": _text(price.get("currency"), 3),
        "channel_stock": sum(row["quantity"] for row in inventory) if inventory else None,
        "extra": {"inventory": inventory},
        "external_updated_at": _unix(item.get("update_time")),
        "synced_at": synced_at,
    }


def listing_rows(
    *, connection: TikTokShopConnection, items: list[dict], synced_at: datetime
) -> Rows:
    """Rows for the page's SKUs, matched to catalog items by seller SKU in one query."""
    rows, skipped = [], []
    for item in items:
        try:
            rows.append(listing_row(tenant_id=connection.tenant_id, item=item, synced_at=synced_at))
        except SkipItem as exc:
            skipped.append(Skip(item=str(item.get("id", "?")), reason=str(exc)))
    _match(tenant_id=connection.tenant_id, rows=rows)
    return Rows(rows=rows, skipped=skipped)


def _match(*, tenant_id: int, rows: list[dict]) -> None:
    """Set ``catalog_item_id`` on every row from its seller SKU: one query for them all."""
    skus = {row["seller_sku"] for row in rows if row["seller_sku"]}
    items = dict(
        CatalogItem.objects.filter(tenant_id=tenant_id, sku__in=skus).values_list("sku", "pk")
        if skus
        else []
    )
    for row in rows:
        row["catalog_item_id"] = items.get(row["seller_sku"]) if row["seller_sku"] else None


PRODUCTS_SYNC_KIND = SyncKind(
    product=PRODUCT,
    kind="products",
    label=gettext_lazy("Products"),
    model="catalog.Listing",
    unique_fields=LISTING_UNIQUE,
    fetch_page=fetch_products,
    to_rows=listing_rows,
    incremental=True,
    overlap=PRODUCTS_OVERLAP,
    schedule_minutes=PRODUCTS_SCHEDULE_MINUTES,
)


def listings_store_product(*, shop: Shop, product: Mapping[str, Any], synced_at: datetime) -> int:
    """Upsert the SKUs of one product detail (webhook refetch); returns the rows written."""
    items = flatten([product], shop_id=shop.shop_id)
    rows = []
    for item in items:
        try:
            rows.append(listing_row(tenant_id=shop.tenant_id, item=item, synced_at=synced_at))
        except SkipItem as exc:
            logger.warning("tiktok_shop product %s skipped: %s", item.get("id", "?"), exc)
    _match(tenant_id=shop.tenant_id, rows=rows)
    return bulk_upsert(model=Listing, rows=rows, unique_fields=LISTING_UNIQUE).total


# --- review status from webhooks ---------------------------------------------------------


def on_product_status_webhook(event) -> None:
    """Webhook type 5 (``PRODUCT_STATUS_CHANGE``): refetch the product and store its verdict.

    ``data``: ``product_id`` (a bare JSON number in TikTok's samples), ``status``
    (``PRODUCT_FIRST_PASS_REVIEW``, ``PRODUCT_AUDIT_FAILURE``,
    ``PRODUCT_STATUS_CHANGED``), ``suspended_reason``, ``update_time``. The
    detail is the truth (status and ``audit_failed_reasons``). If TikTok
    refuses the refetch for good (the product is gone, a scope is missing),
    the push's own verdict is stored on the listings we have, unless they were
    updated after it; a transient failure is raised so the inbox retries.
    """
    from .services import client_for
    from .webhooks import shop_for_event

    shop = shop_for_event(event)
    data = (event.payload or {}).get("data")
    data = data if isinstance(data, Mapping) else {}
    product_id = str(data.get("product_id") or "").strip()
    if not product_id:
        logger.warning("tiktok_shop product webhook %s has no product_id", event.pk)
        return
    try:
        with client_for(shop.connection) as client:
            detail = client.product_get(shop_cipher=shop.cipher, product_id=product_id)
    except ProviderError as exc:
        if exc.transient:
            raise
        logger.warning(
            "tiktok_shop product %s refetch refused (%s); applying the push's verdict",
            product_id,
            exc,
        )
        _apply_webhook_verdict(shop=shop, product_id=product_id, data=data)
        return
    detail = {**detail, "id": detail.get("id") or product_id}
    if not detail.get("audit_failed_reasons") and data.get("suspended_reason"):
        detail["audit_failed_reasons"] = [{"reasons": [str(data["suspended_reason"])]}]
    listings_store_product(shop=shop, product=detail, synced_at=timezone.now())


def _apply_webhook_verdict(*, shop: Shop, product_id: str, data: Mapping[str, Any]) -> int:
    review = WEBHOOK_REVIEW.get(str(data.get("status") or "").upper())
    if review is None:
        return 0
    reason = str(data.get("suspended_reason") or "").strip()
    changed_at = _unix(data.get("update_time"))
    listings = Listing.objects.filter(
        tenant_id=shop.tenant_id,
        channel=CHANNEL,
        account_ref=shop.shop_id,
        external_product_id=product_id,
    )
    if changed_at is not None:
        listings = listings.exclude(external_updated_at__gt=changed_at)
    update: dict[str, Any] = {
        "review_status": review,
        "review_reasons": [reason] if review == ReviewStatus.REJECTED and reason else [],
        "updated_at": timezone.now(),
    }
    if changed_at is not None:
        update["external_updated_at"] = changed_at
    return listings.update(**update)


# --- pushing a catalog item --------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    shop: Shop
    #: the item's listings in this shop (empty: a new product)
    listings: list[Listing]

    @property
    def product_id(self) -> str:
        return self.listings[0].external_product_id if self.listings else ""


def _target(*, item: CatalogItem, account_ref: str) -> _Target:
    shop = (
        Shop.objects.for_tenant(item.tenant)
        .filter(shop_id=account_ref, authorized=True)
        .select_related("connection")
        .first()
    )
    if shop is None:
        raise PushRefused(_("This shop is not connected."))
    if not shop.connection.is_live:
        raise PushRefused(_("TikTok Shop is disconnected. Reconnect it on the hub first."))
    listings = list(
        Listing.objects.for_tenant(item.tenant)
        .filter(channel=CHANNEL, account_ref=shop.shop_id, catalog_item=item)
        .order_by(*LATEST_LISTING_FIRST)
    )
    if listings:
        product_id = listings[0].external_product_id
        listings = [listing for listing in listings if listing.external_product_id == product_id]
        others = Listing.objects.filter(
            tenant_id=item.tenant_id,
            channel=CHANNEL,
            account_ref=shop.shop_id,
            external_product_id=product_id,
        ).exclude(catalog_item=item)
        if others.exists():
            raise PushRefused(
                _(
                    "TikTok product %(product)s has other SKUs besides %(sku)s. The hub replaces "
                    "whole products, so it only updates single-SKU products: edit this one in "
                    "Seller Center."
                )
                % {"product": product_id, "sku": item.sku}
            )
    return _Target(shop=shop, listings=listings)


def _problems(item: CatalogItem, shop: Shop, *, creating: bool) -> list[str]:
    """What TikTok would refuse, checked before anything is sent."""
    problems = []
    if not str((item.category_mapping or {}).get(CHANNEL) or "").strip():
        problems.append(
            _(
                "No TikTok Shop category: set the category id under “category per channel” "
                '(e.g. {"tiktok_shop": "600001"}) or the CSV column category:tiktok_shop.'
            )
        )
    if not item.images:
        problems.append(_("No image: TikTok Shop needs at least one."))
    elif len(item.images) > MAX_MAIN_IMAGES:
        problems.append(_("More than 9 images: TikTok Shop takes 9 at most."))
    if item.weight_kg is None or item.weight_kg <= 0:
        problems.append(_("No package weight: TikTok Shop needs it (weight in kg)."))
    if len(item.sku) > MAX_SELLER_SKU:
        problems.append(_("The SKU is longer than 50 characters, TikTok Shop's limit."))
    if item.price <= 0:
        problems.append(_("The price must be above 0."))
    currency = REGION_CURRENCY.get(shop.region.upper())
    if currency and item.currency.upper() != currency:
        problems.append(
            _("The price is in %(item)s but shop %(shop)s sells in %(shop_currency)s.")
            % {"item": item.currency, "shop": shop, "shop_currency": currency}
        )
    if creating and item.stock < 1:
        problems.append(_("A new TikTok Shop product needs a stock of at least 1."))
    if len(_description(item)) > MAX_DESCRIPTION:
        problems.append(_("The description is longer than TikTok Shop's 10,000 characters."))
    return problems


def _description(item: CatalogItem) -> str:
    """The catalog's plain text as the HTML TikTok wants: a paragraph per blank-line block."""
    text = item.description.strip() or item.title
    blocks = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in block.split("\n")) + "</p>"
        for block in blocks
    )


def _stock_entries(quantity: int, inventory: list[dict]) -> list[dict]:
    """Every warehouse of a SKU, as TikTok requires: the catalog's stock in the first, 0 elsewhere.

    The catalog holds one stock per SKU (what the tenant can sell on the
    shop); TikTok sums its warehouses, so the total equals the catalog.
    A SKU on its single default warehouse may leave the id out.
    """
    quantity = min(max(quantity, 0), MAX_QUANTITY)
    warehouses = [row["warehouse_id"] for row in inventory if row.get("warehouse_id")]
    if not warehouses:
        return [{"quantity": quantity}]
    return [
        {"warehouse_id": warehouse, "quantity": quantity if index == 0 else 0}
        for index, warehouse in enumerate(warehouses)
    ]


def _default_warehouse(*, client: TikTokShopClient, shop: Shop) -> str:
    """The shop's default sales warehouse; one seen on its synced SKUs if logistics is not granted."""
    try:
        rows = client.warehouses(shop_cipher=shop.cipher)
    except PermissionDenied:
        rows = []
    sales = [row for row in rows if str(row.get("type") or "SALES_WAREHOUSE") == "SALES_WAREHOUSE"]
    chosen = next((row for row in sales if row.get("is_default")), sales[0] if sales else None)
    if chosen is not None:
        return str(chosen.get("id") or "")
    for extra in Listing.objects.filter(
        tenant_id=shop.tenant_id, channel=CHANNEL, account_ref=shop.shop_id
    ).values_list("extra", flat=True)[:50]:
        for row in (extra or {}).get("inventory") or []:
            if row.get("warehouse_id"):
                return str(row["warehouse_id"])
    return ""


def _upload_images(*, client: TikTokShopClient, item: CatalogItem) -> list[dict]:
    """Fetch each catalog image and upload it; ``[{uri}]`` in the catalog's order."""
    images = []
    for url in item.images[:MAX_MAIN_IMAGES]:
        try:
            content, content_type = client.image_fetch(url=url)
        except ProviderError as exc:
            raise PushRefused(_("An image could not be used."), details=[exc.message]) from None
        uploaded = client.image_upload(content=content, content_type=content_type)
        if not uploaded.get("uri"):
            raise PushFailed(_("TikTok Shop did not return an image URI."))
        images.append({"uri": str(uploaded["uri"])})
    return images


def _idempotency_key(item: CatalogItem, shop: Shop) -> str:
    """Same item, same shop, same version: TikTok answers the product it already created."""
    raw = f"{item.tenant_id}:{item.pk}:{shop.shop_id}:{item.updated_at.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def product_body(
    *,
    item: CatalogItem,
    images: list[dict],
    inventory: list[dict],
    sku_id: str = "",
    idempotency_key: str = "",
) -> dict:
    """The create (``POST``) or full replace (``PUT``) body of one single-SKU product."""
    sku: dict[str, Any] = {
        "seller_sku": item.sku,
        "price": {"amount": f"{item.price:.2f}", "currency": item.currency.upper()},
        "inventory": _stock_entries(item.stock, inventory),
        "sales_attributes": [],
    }
    if sku_id:
        sku["id"] = sku_id
    body: dict[str, Any] = {
        "title": item.title[:MAX_TITLE],
        "description": _description(item),
        "category_id": str(item.category_mapping[CHANNEL]).strip(),
        "main_images": images,
        "skus": [sku],
        "package_weight": {"value": f"{item.weight_kg.normalize():f}", "unit": WEIGHT_UNIT},
    }
    if idempotency_key:
        body["save_mode"] = "LISTING"
        body["idempotency_key"] = idempotency_key
    return body


def _provider_message(exc: ProviderError) -> str:
    if isinstance(exc, TokenExpired):
        return _("TikTok refused the connection's token. Reconnect TikTok Shop and try again.")
    if isinstance(exc, PermissionDenied):
        return _(
            "TikTok refused: the connection lacks the Catalog pack (seller.product.write). "
            "Reconnect with it. TikTok said: %(error)s"
        ) % {"error": exc.message}
    if isinstance(exc, RateLimited):
        return _("TikTok is limiting requests right now. Try again in a minute.")
    return _("TikTok Shop refused the product: %(error)s") % {"error": exc.message}


def _audit(
    *,
    item: CatalogItem,
    user: AbstractBaseUser | None,
    action: str,
    after: dict,
    error: ProviderError | PushFailed | None = None,
) -> None:
    AuditEntry.objects.create(
        tenant_id=item.tenant_id,
        user=user if user is not None and user.is_authenticated else None,
        product=PRODUCT,
        action=action,
        object_type="catalog_item",
        object_id=item.sku,
        before={},
        after=after,
        outcome=AuditEntry.Outcome.FAILED if error else AuditEntry.Outcome.SUCCEEDED,
        error=str(error) if error else "",
    )


def push_catalog_item(
    *, item: CatalogItem, account_ref: str, user: AbstractBaseUser | None
) -> PushOutcome:
    """Create the item as a product in the shop, or replace the product it is listed as.

    Refused with every problem listed before anything is sent
    (:class:`~apps.catalog.channels.PushRefused`); TikTok's refusal raises
    :class:`~apps.catalog.channels.PushFailed` with its message, is audited,
    and is noted on the item's listings. On success the SKUs TikTok answers
    are upserted as listings in review, matched to the item, with the stock
    sent as their pushed stock.
    """
    from .services import client_for

    target = _target(item=item, account_ref=account_ref)
    shop, creating = target.shop, not target.listings
    problems = _problems(item, shop, creating=creating)
    if problems:
        raise PushRefused(
            _("“%(sku)s” cannot be sent to TikTok Shop yet:") % {"sku": item.sku}, details=problems
        )
    action = "product_create" if creating else "product_edit"
    with client_for(shop.connection) as client:
        if creating:
            warehouse = _default_warehouse(client=client, shop=shop)
            inventory = [{"warehouse_id": warehouse}] if warehouse else []
        else:
            inventory = (target.listings[0].extra or {}).get("inventory") or []
        images = _upload_images(client=client, item=item)
        body = product_body(
            item=item,
            images=images,
            inventory=inventory,
            sku_id="" if creating else target.listings[0].external_sku_id,
            idempotency_key=_idempotency_key(item, shop) if creating else "",
        )
        try:
            if creating:
                answer = client.product_create(shop_cipher=shop.cipher, product=body)
            else:
                answer = client.product_edit(
                    shop_cipher=shop.cipher, product_id=target.product_id, product=body
                )
        except ProviderError as exc:
            message = _provider_message(exc)
            _audit(item=item, user=user, action=action, after=_summary(body), error=exc)
            _note_failure(target=target, message=message)
            raise PushFailed(message) from None
    product_id = str(answer.get("product_id") or target.product_id)
    warnings = [str(w.get("message") or w) for w in answer.get("warnings") or [] if w]
    with transaction.atomic():
        _store_pushed(
            item=item,
            shop=shop,
            product_id=product_id,
            answer_skus=answer.get("skus") or [],
            body=body,
            result=PushResult.CREATED if creating else PushResult.UPDATED,
            warnings=warnings,
        )
        _audit(
            item=item,
            user=user,
            action=action,
            after={**_summary(body), "product_id": product_id},
        )
    return PushOutcome(
        action=PushResult.CREATED if creating else PushResult.UPDATED,
        external_product_id=product_id,
        warnings=warnings,
    )


def _summary(body: dict) -> dict:
    """What the audit trail keeps of a push: the fields a person reviews, not the images."""
    sku = body["skus"][0]
    return {
        "title": body["title"],
        "category_id": body["category_id"],
        "seller_sku": sku["seller_sku"],
        "price": sku["price"],
        "quantity": sum(entry["quantity"] for entry in sku["inventory"]),
        "images": len(body["main_images"]),
    }


def _note_failure(*, target: _Target, message: str) -> None:
    if target.listings:
        Listing.objects.filter(pk__in=[listing.pk for listing in target.listings]).update(
            last_pushed_at=timezone.now(),
            last_push_result=PushResult.FAILED,
            last_push_message=message,
            updated_at=timezone.now(),
        )


def _store_pushed(
    *,
    item: CatalogItem,
    shop: Shop,
    product_id: str,
    answer_skus: list,
    body: dict,
    result: str,
    warnings: list[str],
) -> None:
    """Upsert the SKUs TikTok answered as listings in review, matched to the item."""
    now = timezone.now()
    sent = body["skus"][0]
    quantity = sum(entry["quantity"] for entry in sent["inventory"])
    inventory = [
        {"warehouse_id": str(entry.get("warehouse_id") or ""), "quantity": entry["quantity"]}
        for entry in sent["inventory"]
    ]
    sku_ids = [str(s.get("id")) for s in answer_skus if isinstance(s, Mapping) and s.get("id")]
    if not sku_ids and sent.get("id"):
        sku_ids = [sent["id"]]
    rows = [
        {
            "tenant_id": item.tenant_id,
            "channel": CHANNEL,
            "account_ref": shop.shop_id,
            "external_product_id": product_id,
            "external_sku_id": sku_id,
            "seller_sku": item.sku,
            "title": body["title"],
            "status": "PENDING",
            "review_status": ReviewStatus.PENDING,
            "review_reasons": [],
            "catalog_item_id": item.pk,
            "price": item.price,
            "currency": item.currency.upper(),
            "channel_stock": quantity,
            "extra": {"inventory": inventory},
            "last_pushed_at": now,
            "last_push_result": result,
            "last_push_message": " ".join(warnings),
            "pushed_stock": quantity,
            "stock_pushed_at": now,
            "stock_push_error": "",
        }
        for sku_id in sku_ids
    ]
    bulk_upsert(model=Listing, rows=rows, unique_fields=LISTING_UNIQUE)
