"""TikTok Shop products, images, warehouses and inventory (contract tiktok-shop.md §3.6).

Every endpoint goes through ``signed_endpoint`` (signature, timestamp, token,
``shop_cipher`` rules, scope), like the real Open API.

**The generated catalog.** A shop sells the products of
:func:`apps.sandbox.shop_data.shop_skus` (the SKUs its orders point at): 40
products of 1 to 3 SKUs, seller SKUs ``SB-<region>-<nnn>-<v>``. Each product's
status is a pure function of the shop, the product and the seller's anchor
(first authorization): most are ``ACTIVATE``, some ``SELLER_DEACTIVATED``,
a few ``FAILED`` with ``audit_failed_reasons``, and a few ``PENDING`` that
turn ``ACTIVATE`` minutes after the anchor. Each SKU sits in the shop's
default warehouse; every 7th product's SKUs also sit in a second one.

**What callers change** (created products, edits, inventory, uploaded
images) is kept in Django's cache, shared by every process of the dev server
(the default cache is the database): one entry per shop, read, changed and
written back. Good enough for a demo and for tests; two writers at the same
instant may lose one change.

**Review over time.** A created or edited product is ``PENDING`` for
``SANDBOX_SHOP_REVIEW_SECONDS`` (60 by default), then ``ACTIVATE``; a title
containing "replica" is ``FAILED`` instead, with a reason (the recognisable
rejection case). Its ``update_time`` moves to the end of the review, so an
incremental sync sees the verdict.

**Validation** (sandbox choices where the contract is silent): an invalid
create or edit answers code 12052700 with a message naming the field, a
request over the limits 12052701; a page token that cannot be read 12052702.
Inventory updates answer code 0 with per-SKU ``data.errors`` (unknown SKU,
quantity outside 0..99,999, unknown or missing warehouse), as TikTok does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from .. import generator, shop_data
from ..envelopes import tiktok
from ..models import SandboxGrant
from .tiktok_shop import signed_endpoint

READ_SCOPE = "seller.product.basic"
WRITE_SCOPE = "seller.product.write"
LOGISTICS_SCOPE = "seller.logistics"

MAX_PAGE_SIZE = 100
#: SKUs per inventory update call (the hub sends at most this many).
MAX_INVENTORY_SKUS = 100
MAX_QUANTITY = 99_999
MAX_MAIN_IMAGES = 9
MAX_SKUS = 100
MAX_SELLER_SKU = 50
MAX_TITLE = 255
MAX_DESCRIPTION = 10_000
IMAGE_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_REVIEW_SECONDS = 60
CACHE_KEY = "sandbox:tiktok_shop:catalog:{shop_id}"
STATE_TTL = None  # kept until the cache is cleared

INVALID = 12052700
OVER_LIMIT = 12052701
BAD_TOKEN = 12052702
#: Per-SKU inventory errors (TikTok's sample: 12052990 "Check failed" with detail).
CHECK_FAILED = 12052990
WAREHOUSE_MISSING = 12052097
SKU_NOT_IN_PRODUCT = 12052098
BAD_QUANTITY = 12052099

REGION_CURRENCY = {
    "GB": "GBP",
    "US": "USD",
    "MY": "MYR",
    "ID": "IDR",
    "TH": "THB",
    "VN": "VND",
    "PH": "PHP",
    "SG": "SGD",
}
#: Leaf categories the sandbox accepts on create and edit.
CATEGORIES = {
    "600001": "Home Supplies > Kitchenware > Mugs",
    "600002": "Home Supplies > Home Decor > Candles",
    "600003": "Sports & Outdoor > Camping > Lanterns",
    "600004": "Beauty & Personal Care > Skincare > Serums",
    "600005": "Fashion Accessories > Socks",
    "600006": "Home Supplies > Textiles > Throws",
}
REJECTION_REASON = "Counterfeit or replica goods are prohibited."
REJECTION_SUGGESTION = "Remove the product or list an authentic item with proof of authenticity."


def review_seconds() -> int:
    return int(getattr(settings, "SANDBOX_SHOP_REVIEW_SECONDS", DEFAULT_REVIEW_SECONDS))


# --- the shop ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    shop_id: str
    region: str
    currency: str
    anchor: int
    warehouses: tuple[str, str]


def _shop(request: HttpRequest, grant: SandboxGrant) -> Shop | None:
    cipher = request.GET.get("shop_cipher", "")
    shop = next((s for s in generator.shops(grant.account_id) if s["cipher"] == cipher), None)
    if shop is None:
        return None
    r = generator.rng("shop-warehouses", shop["id"])
    warehouses = ("72" + _digits(r, 17), "72" + _digits(r, 17))
    return Shop(
        shop_id=shop["id"],
        region=shop["region"],
        currency=REGION_CURRENCY.get(shop["region"], "USD"),
        anchor=shop_data.shop_anchor(grant.account_id),
        warehouses=warehouses,
    )


def _digits(r, length: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(length))


def _unknown_cipher() -> HttpResponse:
    return tiktok(36009004, "Invalid shop_cipher. The shop is not authorized for this token.")


def _now() -> int:
    return int(generator.now().timestamp())


def _state(shop: Shop) -> dict:
    state = cache.get(CACHE_KEY.format(shop_id=shop.shop_id))
    return state or {"created": {}, "edits": {}, "inventory": {}, "idempotency": {}}


def _save(shop: Shop, state: dict) -> None:
    cache.set(CACHE_KEY.format(shop_id=shop.shop_id), state, STATE_TTL)


# --- generated products --------------------------------------------------------------------


def _generated(shop: Shop) -> dict[str, dict]:
    """The shop's generated products, by id, before any change a caller made."""
    products: dict[str, dict] = {}
    for sku in shop_data.shop_skus(shop.shop_id, shop.region):
        product = products.get(sku.product_id)
        if product is None:
            product = products[sku.product_id] = _generated_product(shop, sku)
        product["skus"].append(
            {
                "id": sku.sku_id,
                "seller_sku": sku.seller_sku,
                "price": _price(Decimal(sku.price_cents) / 100, shop.currency),
                "sales_attributes": [
                    {"id": "100000", "name": "Variant", "value_name": sku.sku_name}
                ],
            }
        )
    return products


def _generated_product(shop: Shop, sku: shop_data.Sku) -> dict:
    r = generator.rng("shop-product-listing", shop.shop_id, sku.product_id)
    created = shop.anchor - r.randint(86400, 120 * 86400)
    updated = min(shop.anchor - 60, created + r.randint(0, 30 * 86400))
    roll = r.random()
    review_done = None
    if roll < 0.05:
        status = "FAILED"
    elif roll < 0.10:
        status = "PENDING"
        review_done = shop.anchor + r.randint(2 * 60, 30 * 60)
    elif roll < 0.15:
        status = "SELLER_DEACTIVATED"
    else:
        status = "ACTIVATE"
    index = int(sku.seller_sku.rsplit("-", 2)[-2]) if sku.seller_sku.count("-") >= 3 else 0
    category = sorted(CATEGORIES)[index % len(CATEGORIES)]
    return {
        "id": sku.product_id,
        "title": sku.product_name,
        "description": f"<p>{sku.product_name}, sold by the sandbox shop.</p>",
        "category_id": category,
        "status": status,
        "create_time": created,
        "update_time": updated,
        "review_done": review_done,
        "verdict": "ACTIVATE",
        "main_images": [{"uri": f"tos-sandbox/{sku.product_id}"}],
        "package_weight": {"value": "0.5", "unit": "KILOGRAM"},
        "skus": [],
        "second_warehouse": index % 7 == 0,
        "failed_reasons": (
            [
                {
                    "listing_platform": "TIKTOK_SHOP",
                    "position": "product",
                    "reasons": ["The main image shows a watermark."],
                    "suggestions": ["Upload main images without watermarks or logos."],
                }
            ]
            if status == "FAILED"
            else []
        ),
    }


def _price(amount: Decimal, currency: str) -> dict:
    text = f"{amount:.2f}"
    return {"currency": currency, "sale_price": text, "tax_exclusive_price": text}


def _products(shop: Shop, state: dict) -> dict[str, dict]:
    """Generated products with the callers' edits laid over them, plus created ones."""
    products = _generated(shop)
    for product_id, edit in state["edits"].items():
        if product_id in products:
            products[product_id] = {**products[product_id], **edit}
    for product_id, created in state["created"].items():
        products[product_id] = {**created, **state["edits"].get(product_id, {})}
    return products


def _at(product: dict, now: int) -> dict:
    """The product as TikTok shows it at ``now``: review verdicts land when their time comes."""
    product = dict(product)
    done = product.get("review_done")
    if product["status"] == "PENDING" and done is not None and done <= now:
        product["status"] = product.get("verdict") or "ACTIVATE"
        product["update_time"] = max(product["update_time"], done)
    return product


def _inventory(shop: Shop, product: dict, sku: dict, state: dict) -> list[dict]:
    stored = state["inventory"].get(sku["id"])
    warehouses = _sku_warehouses(shop, product, sku)
    if stored is None:
        r = generator.rng("shop-stock", shop.shop_id, sku["id"])
        stored = {
            w: (r.randint(0, 250) if i == 0 else r.randint(0, 40)) for i, w in enumerate(warehouses)
        }
    return [{"warehouse_id": w, "quantity": int(stored.get(w, 0))} for w in warehouses]


def _sku_warehouses(shop: Shop, product: dict, sku: dict) -> list[str]:
    if sku.get("warehouses"):
        return list(sku["warehouses"])
    return list(shop.warehouses) if product.get("second_warehouse") else [shop.warehouses[0]]


def _search_object(shop: Shop, product: dict, state: dict) -> dict:
    return {
        "id": product["id"],
        "title": product["title"],
        "status": product["status"],
        "skus": [
            {
                "id": sku["id"],
                "seller_sku": sku.get("seller_sku", ""),
                "price": sku["price"],
                "inventory": _inventory(shop, product, sku, state),
            }
            for sku in product["skus"]
        ],
        "sales_regions": [shop.region],
        "create_time": product["create_time"],
        "update_time": product["update_time"],
        "audit": {"status": _audit_status(product["status"])},
        "is_not_for_sale": False,
    }


def _audit_status(status: str) -> str:
    return {"PENDING": "AUDITING", "FAILED": "REJECTED", "DRAFT": "NONE"}.get(status, "APPROVED")


def _detail_object(shop: Shop, product: dict, state: dict) -> dict:
    detail = _search_object(shop, product, state)
    for sku, original in zip(detail["skus"], product["skus"], strict=True):
        sku["sales_attributes"] = original.get("sales_attributes", [])
    detail.update(
        description=product["description"],
        category_chains=[
            {
                "id": product["category_id"],
                "is_leaf": True,
                "local_name": CATEGORIES.get(product["category_id"], "").split(" > ")[-1],
                "parent_id": "0",
            }
        ],
        main_images=[
            {"uri": image["uri"], "urls": [f"https://p16-sandbox.example/{image['uri']}"]}
            for image in product["main_images"]
        ],
        package_weight=product["package_weight"],
        audit_failed_reasons=product["failed_reasons"] if product["status"] == "FAILED" else [],
    )
    return detail


# --- search and detail -------------------------------------------------------------------


def _encode_token(offset: int) -> str:
    raw = json.dumps({"o": offset, "k": "p"}).encode()
    return base64.b64encode(hashlib.sha256(raw).digest()[:3] + raw).decode()


def _decode_token(token: str) -> int | None:
    try:
        blob = base64.b64decode(token.encode(), validate=True)
        if hashlib.sha256(blob[3:]).digest()[:3] != blob[:3]:
            return None
        payload = json.loads(blob[3:])
        return int(payload["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def _int_param(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _json_body(request: HttpRequest) -> dict | None:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@signed_endpoint(scope=READ_SCOPE, shop_scoped=True, methods=("POST",))
def products_search(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``POST /product/202309/products/search``: oldest update first, ``page_size`` 1-100."""
    shop = _shop(request, grant)
    if shop is None:
        return _unknown_cipher()
    page_size = _int_param(request.GET.get("page_size"))
    if page_size is None or not 1 <= page_size <= MAX_PAGE_SIZE:
        return tiktok(OVER_LIMIT, "Invalid parameter: page_size must be 1 to 100.")
    body = _json_body(request)
    if body is None:
        return tiktok(INVALID, "Invalid parameter: the body is not a JSON object.")
    offset = 0
    if token := request.GET.get("page_token", ""):
        offset = _decode_token(token)
        if offset is None:
            return tiktok(BAD_TOKEN, "Invalid parameter: page_token is invalid.")
    now = _now()
    state = _state(shop)
    products = [_at(p, now) for p in _products(shop, state).values()]
    products = [p for p in products if _matches(p, body)]
    products.sort(key=lambda p: (p["update_time"], p["id"]))
    page = products[offset : offset + page_size]
    next_offset = offset + len(page)
    return tiktok(
        0,
        "Success",
        {
            "products": [_search_object(shop, p, state) for p in page],
            "next_page_token": _encode_token(next_offset) if next_offset < len(products) else "",
            "total_count": len(products),
        },
    )


def _matches(product: dict, body: dict) -> bool:
    if body.get("status") and body["status"] != "ALL" and product["status"] != body["status"]:
        return False
    for field, key, test in (
        ("update_time", "update_time_ge", lambda v, b: v >= b),
        ("update_time", "update_time_le", lambda v, b: v <= b),
        ("create_time", "create_time_ge", lambda v, b: v >= b),
        ("create_time", "create_time_le", lambda v, b: v <= b),
    ):
        bound = _int_param(body.get(key))
        if bound is not None and not test(product[field], bound):
            return False
    skus = body.get("seller_skus")
    return not skus or any(sku.get("seller_sku") in skus for sku in product["skus"])


def _by_path(view: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    """Let a signed view (which takes the request only) sit on a URL with ``<product_id>``.

    The view reads the id from ``request.resolver_match.kwargs``.
    """

    @csrf_exempt
    @wraps(view)
    def outer(request: HttpRequest, **kwargs: str) -> HttpResponse:
        return view(request)

    return outer


def _product_id(request: HttpRequest) -> str:
    return str(request.resolver_match.kwargs.get("product_id", ""))


@signed_endpoint(scope=READ_SCOPE, shop_scoped=True, methods=("GET", "PUT"))
def _product(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    shop = _shop(request, grant)
    if shop is None:
        return _unknown_cipher()
    if request.method == "PUT":
        if WRITE_SCOPE not in grant.scopes:
            return tiktok(
                105005,
                "Access denied. The access scopes granted by the seller do not contain "
                f"the required access scope {WRITE_SCOPE}.",
            )
        return _edit(request, shop)
    state = _state(shop)
    product = _products(shop, state).get(_product_id(request))
    if product is None:
        return tiktok(12052001, "Product not found.")
    return tiktok(0, "Success", _detail_object(shop, _at(product, _now()), state))


#: ``GET`` (detail) and ``PUT`` (edit) share ``/product/202309/products/<id>``.
product = _by_path(_product)


# --- create and edit ----------------------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, message: str, code: int = INVALID) -> None:
        super().__init__(message)
        self.code = code


def _check_product(shop: Shop, body: dict, state: dict, *, creating: bool) -> None:
    title = body.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= MAX_TITLE:
        raise _Invalid("Invalid parameter: title must be 1 to 255 characters.")
    description = body.get("description")
    if not isinstance(description, str) or not description.strip():
        raise _Invalid("Invalid parameter: description is required.")
    if len(description) > MAX_DESCRIPTION:
        raise _Invalid("Invalid parameter: description is longer than 10000 characters.")
    category = str(body.get("category_id") or "")
    if category not in CATEGORIES:
        raise _Invalid(
            f"Invalid parameter: category_id {category or '(empty)'} is not a leaf category."
        )
    images = body.get("main_images")
    if not isinstance(images, list) or not 1 <= len(images) <= MAX_MAIN_IMAGES:
        raise _Invalid("Invalid parameter: main_images must hold 1 to 9 images.")
    uploaded = set(state.get("images", []))
    for image in images:
        uri = image.get("uri") if isinstance(image, dict) else None
        if not uri or (uri not in uploaded and not uri.startswith("tos-sandbox/")):
            raise _Invalid(f"Invalid parameter: main_images uri {uri!r} was not uploaded.")
    weight = body.get("package_weight") or {}
    try:
        weight_value = Decimal(str(weight.get("value")))
    except (InvalidOperation, AttributeError):
        weight_value = Decimal(0)
    units = ("KILOGRAM", "POUND")
    if not weight_value.is_finite() or weight_value <= 0 or weight.get("unit") not in units:
        raise _Invalid("Invalid parameter: package_weight needs a positive value and a unit.")
    skus = body.get("skus")
    if not isinstance(skus, list) or not 1 <= len(skus) <= MAX_SKUS:
        raise _Invalid("Invalid parameter: skus must hold 1 to 100 SKUs.")
    for sku in skus:
        _check_sku(shop, sku, creating=creating)


def _check_sku(shop: Shop, sku: Any, *, creating: bool) -> None:
    if not isinstance(sku, dict):
        raise _Invalid("Invalid parameter: skus holds something that is not an object.")
    seller_sku = sku.get("seller_sku") or ""
    if len(seller_sku) > MAX_SELLER_SKU:
        raise _Invalid(f"Invalid parameter: seller_sku {seller_sku[:60]!r} is over 50 characters.")
    price = sku.get("price") or {}
    try:
        amount = Decimal(str(price.get("amount")))
    except (InvalidOperation, AttributeError):
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0:
        raise _Invalid(f"Invalid parameter: price.amount of {seller_sku} must be above 0.")
    if price.get("currency") != shop.currency:
        raise _Invalid(
            f"Invalid parameter: price.currency of {seller_sku} must be {shop.currency} in "
            f"region {shop.region}."
        )
    inventory = sku.get("inventory")
    if not isinstance(inventory, list) or not inventory:
        raise _Invalid(f"Invalid parameter: inventory of {seller_sku} is required.")
    lowest = 1 if creating else 0
    for entry in inventory:
        quantity = entry.get("quantity") if isinstance(entry, dict) else None
        if not isinstance(quantity, int) or not lowest <= quantity <= MAX_QUANTITY:
            raise _Invalid(
                f"Invalid parameter: inventory quantity of {seller_sku} must be {lowest} to 99999."
            )
        if entry.get("warehouse_id") not in shop.warehouses:
            raise _Invalid(
                f"Invalid parameter: warehouse_id {entry.get('warehouse_id')!r} is not a "
                "warehouse of this shop."
            )


def _stored_product(shop: Shop, body: dict, product_id: str, skus: list[dict], now: int) -> dict:
    """What the sandbox keeps of a created or edited product (it starts its review)."""
    rejected = "replica" in body["title"].lower()
    return {
        "id": product_id,
        "title": body["title"],
        "description": body["description"],
        "category_id": str(body["category_id"]),
        "status": "PENDING",
        "update_time": now,
        "review_done": now + review_seconds(),
        "verdict": "FAILED" if rejected else "ACTIVATE",
        "main_images": [{"uri": image["uri"]} for image in body["main_images"]],
        "package_weight": body["package_weight"],
        "skus": skus,
        "failed_reasons": (
            [
                {
                    "listing_platform": "TIKTOK_SHOP",
                    "position": "product",
                    "reasons": [REJECTION_REASON],
                    "suggestions": [REJECTION_SUGGESTION],
                }
            ]
            if rejected
            else []
        ),
    }


def _stored_skus(
    shop: Shop, body: dict, product_id: str, existing: dict[str, dict]
) -> tuple[list[dict], dict[str, dict]]:
    """SKUs as stored (ids kept, new ones numbered) and their inventory by SKU id."""
    skus, inventory = [], {}
    for index, sku in enumerate(body["skus"]):
        sku_id = str(sku.get("id") or "")
        if sku_id not in existing:
            r = generator.rng("shop-created-sku", shop.shop_id, product_id, index, sku_id)
            sku_id = "17" + _digits(r, 17)
        price = sku["price"]
        skus.append(
            {
                "id": sku_id,
                "seller_sku": sku.get("seller_sku", ""),
                "price": _price(Decimal(str(price["amount"])), price["currency"]),
                "sales_attributes": sku.get("sales_attributes") or [],
                "warehouses": [entry["warehouse_id"] for entry in sku["inventory"]],
            }
        )
        inventory[sku_id] = {e["warehouse_id"]: e["quantity"] for e in sku["inventory"]}
    return skus, inventory


def _created_answer(product: dict) -> dict:
    return {
        "product_id": product["id"],
        "skus": [
            {
                "id": sku["id"],
                "seller_sku": sku["seller_sku"],
                "sales_attributes": sku["sales_attributes"],
            }
            for sku in product["skus"]
        ],
        "warnings": [],
    }


@signed_endpoint(scope=WRITE_SCOPE, shop_scoped=True, methods=("POST",))
def products_create(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``POST /product/202309/products``; an ``idempotency_key`` seen before answers the same."""
    shop = _shop(request, grant)
    if shop is None:
        return _unknown_cipher()
    body = _json_body(request)
    if body is None:
        return tiktok(INVALID, "Invalid parameter: the body is not a JSON object.")
    state = _state(shop)
    key = str(body.get("idempotency_key") or "")
    if key and key in state["idempotency"]:
        created = state["created"][state["idempotency"][key]]
        return tiktok(0, "Success", _created_answer(created))
    try:
        _check_product(shop, body, state, creating=True)
    except _Invalid as exc:
        return tiktok(exc.code, str(exc))
    now = _now()
    r = generator.rng("shop-created-product", shop.shop_id, len(state["created"]), key, now)
    product_id = "17" + _digits(r, 17)
    skus, inventory = _stored_skus(shop, body, product_id, existing={})
    created = _stored_product(shop, body, product_id, skus, now)
    created["create_time"] = now
    state["created"][product_id] = created
    state["inventory"].update(inventory)
    if key:
        state["idempotency"][key] = product_id
    _save(shop, state)
    return tiktok(0, "Success", _created_answer(created))


def _edit(request: HttpRequest, shop: Shop) -> HttpResponse:
    """``PUT /product/202309/products/{id}``: full replace; the product is reviewed again."""
    body = _json_body(request)
    if body is None:
        return tiktok(INVALID, "Invalid parameter: the body is not a JSON object.")
    state = _state(shop)
    product_id = _product_id(request)
    current = _products(shop, state).get(product_id)
    if current is None:
        return tiktok(12052001, "Product not found.")
    try:
        _check_product(shop, body, state, creating=False)
    except _Invalid as exc:
        return tiktok(exc.code, str(exc))
    existing = {sku["id"]: sku for sku in current["skus"]}
    skus, inventory = _stored_skus(shop, body, product_id, existing=existing)
    edited = _stored_product(shop, body, product_id, skus, _now())
    edited["create_time"] = current["create_time"]
    state["edits"][product_id] = edited
    state["inventory"].update(inventory)
    _save(shop, state)
    return tiktok(0, "Success", _created_answer(edited))


# --- inventory ---------------------------------------------------------------------------


@signed_endpoint(scope=WRITE_SCOPE, shop_scoped=True, methods=("POST",))
def _inventory_update(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    shop = _shop(request, grant)
    if shop is None:
        return _unknown_cipher()
    body = _json_body(request)
    skus = (body or {}).get("skus")
    if not isinstance(skus, list) or not skus:
        return tiktok(INVALID, "Invalid parameter: skus is required.")
    if len(skus) > MAX_INVENTORY_SKUS:
        return tiktok(
            OVER_LIMIT, f"Invalid parameter: at most {MAX_INVENTORY_SKUS} skus per request."
        )
    state = _state(shop)
    product = _products(shop, state).get(_product_id(request))
    if product is None:
        return tiktok(12052001, "Product not found.")
    by_id = {sku["id"]: sku for sku in product["skus"]}
    errors = []
    for entry in skus:
        error = _inventory_error(shop, product, by_id, entry)
        if error is not None:
            errors.append(error)
            continue
        sku = by_id[str(entry["id"])]
        warehouses = _sku_warehouses(shop, product, sku)
        new = {w["warehouse_id"] or warehouses[0]: w["quantity"] for w in _entries(entry)}
        state["inventory"][sku["id"]] = new
    _save(shop, state)
    return tiktok(0, "Success", {"errors": errors} if errors else {})


def _entries(entry: dict) -> list[dict]:
    return [
        {"warehouse_id": str(w.get("warehouse_id") or ""), "quantity": w.get("quantity")}
        for w in entry.get("inventory") or []
        if isinstance(w, dict)
    ]


def _inventory_error(shop: Shop, product: dict, by_id: dict, entry: Any) -> dict | None:
    sku_id = str(entry.get("id") or "") if isinstance(entry, dict) else ""

    def failed(code: int, message: str, warehouse_id: str = "") -> dict:
        extra = {"code": code, "message": message}
        if warehouse_id:
            extra["warehouse_id"] = warehouse_id
        return {
            "code": CHECK_FAILED,
            "message": "Check failed",
            "detail": {"sku_id": sku_id, "extra_errors": [extra]},
        }

    if sku_id not in by_id:
        return failed(SKU_NOT_IN_PRODUCT, "The SKU does not belong to this product.")
    entries = _entries(entry)
    if not entries:
        return failed(BAD_QUANTITY, "inventory is required.")
    warehouses = _sku_warehouses(shop, product, by_id[sku_id])
    given = set()
    for item in entries:
        quantity = item["quantity"]
        if not isinstance(quantity, int) or not 0 <= quantity <= MAX_QUANTITY:
            return failed(BAD_QUANTITY, "The quantity must be 0 to 99999.", item["warehouse_id"])
        warehouse = item["warehouse_id"]
        if not warehouse and len(warehouses) == 1:
            warehouse = warehouses[0]  # the default warehouse may be left out
        if warehouse not in warehouses:
            return failed(WAREHOUSE_MISSING, "The warehouse does not exist", warehouse)
        given.add(warehouse)
    missing = [w for w in warehouses if w not in given]
    if missing:
        return failed(WAREHOUSE_MISSING, "Every warehouse of the SKU must be included.", missing[0])
    return None


#: ``POST /product/202309/products/<id>/inventory/update``
inventory_update = _by_path(_inventory_update)


# --- images and warehouses -------------------------------------------------------------------


_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


def _multipart_file(request: HttpRequest) -> bytes | None:
    upload = request.FILES.get("data")
    return upload.read() if upload is not None else None


@signed_endpoint(scope=WRITE_SCOPE, methods=("POST",))
def images_upload(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``POST /product/202309/images/upload`` (multipart ``data``, ``use_case``); no cipher."""
    content = _multipart_file(request)
    if not content:
        return tiktok(INVALID, "Invalid parameter: data (the image file) is required.")
    if len(content) > IMAGE_MAX_BYTES:
        return tiktok(36009021, "The file is too large.")
    if not content.startswith((_PNG, _JPEG)):
        return tiktok(INVALID, "Invalid parameter: the image must be a JPG, JPEG or PNG.")
    digest = hashlib.sha256(content).hexdigest()[:32]
    uri = f"tos-sandbox-upload/{digest}"
    width, height = _png_size(content) or (600, 600)
    # Uploads are not shop-scoped: they are remembered per seller, under each of its shops.
    for shop in generator.shops(grant.account_id):
        key = CACHE_KEY.format(shop_id=shop["id"])
        state = cache.get(key) or {"created": {}, "edits": {}, "inventory": {}, "idempotency": {}}
        state.setdefault("images", [])
        if uri not in state["images"]:
            state["images"].append(uri)
        cache.set(key, state, STATE_TTL)
    return tiktok(
        0,
        "Success",
        {
            "uri": uri,
            "url": f"https://p16-sandbox.example/{uri}",
            "width": width,
            "height": height,
            "use_case": request.POST.get("use_case") or "MAIN_IMAGE",
        },
    )


def _png_size(content: bytes) -> tuple[int, int] | None:
    if content.startswith(_PNG) and len(content) >= 24:
        return struct.unpack(">II", content[16:24])
    return None


@signed_endpoint(scope=LOGISTICS_SCOPE, shop_scoped=True)
def warehouses(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
    """``GET /logistics/202309/warehouses``: the default sales warehouse and a second one."""
    shop = _shop(request, grant)
    if shop is None:
        return _unknown_cipher()
    rows = [
        {
            "id": warehouse_id,
            "name": f"Sandbox {shop.region} {'main' if index == 0 else 'overflow'} warehouse",
            "effect_status": "ENABLED",
            "type": "SALES_WAREHOUSE",
            "sub_type": "DOMESTIC_WAREHOUSE",
            "is_default": index == 0,
            "address": {"region_code": shop.region},
        }
        for index, warehouse_id in enumerate(shop.warehouses)
    ]
    return tiktok(0, "Success", {"warehouses": rows})


# --- demo images ------------------------------------------------------------------------------


@require_GET
def demo_image(request: HttpRequest, name: str) -> HttpResponse:
    """A 120x120 PNG in a colour derived from ``name``: images for the demo catalog to upload.

    Not a TikTok endpoint: it stands in for the tenant's own image host.
    """
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64:
        return HttpResponseNotFound()
    return HttpResponse(solid_png(name), content_type="image/png")


def solid_png(seed: str, size: int = 120) -> bytes:
    """A valid PNG of one colour (TikTok wants at least 100x100 pixels)."""
    r = generator.rng("demo-image", seed)
    pixel = bytes((r.randint(40, 220), r.randint(40, 220), r.randint(40, 220)))
    raw = b"".join(b"\x00" + pixel * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return _PNG + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
