"""Deterministic TikTok Shop orders for the sandbox: thousands per shop, moving over time.

Each shop has :func:`orders_per_shop` orders (``SANDBOX_SHOP_ORDERS_PER_SHOP``,
2,500 by default, so 5,000 per seller). Everything about an order is a pure
function of the shop id, its index and the **anchor**: the moment the seller
first authorized the sandbox app (:func:`shop_anchor`). Orders were created
over the 60 days before the anchor; each then walks a fixed timeline::

    UNPAID -> AWAITING_SHIPMENT -> AWAITING_COLLECTION -> IN_TRANSIT -> DELIVERED -> COMPLETED

with step lengths of hours to days (about 3% of orders are fast, with steps of
minutes, so a demo sees movement at once); some are cancelled while unpaid or
awaiting shipment. An order's status at time ``t`` is the last step whose time
is ``<= t``, and its ``update_time`` is that step's time. So the same clock
gives the same answer in every process, and moving :func:`generator.now`
(tests monkeypatch it) moves every order.

The static part of a shop's orders is memoised per process (a pure function
of its arguments: a speed-up, never state another process needs); the full
order objects are built only for the page being answered.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import string
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from . import generator

#: The 202309 order statuses along the happy path, then the cancelled end.
TIMELINE = (
    "UNPAID",
    "AWAITING_SHIPMENT",
    "AWAITING_COLLECTION",
    "IN_TRANSIT",
    "DELIVERED",
    "COMPLETED",
)
CANCELLED = "CANCELLED"
#: Orders were created over this many days before the anchor.
HISTORY_SECONDS = 60 * 86400
#: (shortest, longest) seconds from each step to the next, for a normal order ...
STEP_SECONDS = (
    (60, 2 * 3600),  # paid
    (2 * 3600, 3 * 86400),  # handed to the carrier
    (3600, 86400),  # collected
    (86400, 5 * 86400),  # delivered
    (3 * 86400, 10 * 86400),  # completed (return window closed)
)
#: ... and for a fast one (a demo sees these move within the hour).
FAST_STEP_SECONDS = ((30, 300), (60, 600), (60, 600), (120, 900), (120, 900))
FAST_SHARE = 0.03
CANCEL_UNPAID_SHARE = 0.04
CANCEL_AWAITING_SHARE = 0.02
#: Orders search: ``page_size`` 1-100 (contract §3.6).
MAX_PAGE_SIZE = 100
#: ``GET /order/202309/orders``: at most 50 ids.
MAX_GET_IDS = 50
DEFAULT_ORDERS_PER_SHOP = 2500
PRODUCTS_PER_SHOP = 40

_CURRENCY = {
    "GB": "GBP",
    "US": "USD",
    "MY": "MYR",
    "ID": "IDR",
    "TH": "THB",
    "VN": "VND",
    "PH": "PHP",
    "SG": "SGD",
}
_PRODUCT_NAMES = (
    "Ceramic Mug",
    "Linen Throw",
    "Trail Bottle",
    "Bamboo Brush",
    "Scented Candle",
    "Camp Lantern",
    "Face Serum",
    "Wool Socks",
)
_VARIANTS = ("Black", "White", "Sand", "Olive", "Large", "Small")
_FIRST = ("Alex", "Bea", "Caio", "Dora", "Enzo", "Flor", "Gus", "Hana")
_LAST = ("Moreira", "Tan", "Smith", "Nguyen", "Santos", "Lim", "Brown", "Wong")
_STREETS = ("High Street", "Market Road", "Jalan Ampang", "Orchard Road", "Main Street")


def orders_per_shop() -> int:
    return int(getattr(settings, "SANDBOX_SHOP_ORDERS_PER_SHOP", DEFAULT_ORDERS_PER_SHOP))


def shop_anchor(account_id: str) -> int:
    """When the seller first authorized the sandbox app (Unix seconds), else today's midnight.

    The first grant ever, revoked or not, so reconnecting does not move the world.
    """
    from .models import Provider, SandboxGrant

    first = (
        SandboxGrant.objects.filter(provider=Provider.TIKTOK_SHOP, account_id=account_id)
        .order_by("created_at", "pk")
        .values_list("created_at", flat=True)
        .first()
    )
    when = first or generator.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return int(when.timestamp())


def now_seconds() -> int:
    return int(generator.now().timestamp())


# --- the static part of a shop's orders ----------------------------------------------------


@dataclass(frozen=True)
class Sku:
    sku_id: str
    seller_sku: str
    product_id: str
    product_name: str
    sku_name: str
    price_cents: int


@dataclass(frozen=True)
class OrderSeed:
    """What never changes about an order: its id, its steps and their times."""

    index: int
    order_id: str
    #: step times (Unix seconds), the first is the creation
    times: tuple[int, ...]
    #: the status reached at each step
    statuses: tuple[str, ...]

    def position(self, at: int) -> int:
        """Index of the step in force at ``at``; -1 before the order exists."""
        return bisect_right(self.times, at) - 1


@dataclass(frozen=True)
class ShopOrders:
    shop_id: str
    region: str
    anchor: int
    seeds: tuple[OrderSeed, ...]
    by_id: dict[str, OrderSeed]
    skus: tuple[Sku, ...]
    #: order id -> what the seller's ship call carried (``shop_ops_data.with_shipments``)
    shipments: dict[str, dict] = field(default_factory=dict)


def _digits(r, length: int) -> str:
    return "".join(r.choice(string.digits) for _ in range(length))


def shop_skus(shop_id: str, region: str) -> tuple[Sku, ...]:
    """The products the shop sells, 1 to 3 SKUs each (what order line items point at)."""
    skus = []
    for index in range(PRODUCTS_PER_SHOP):
        r = generator.rng("shop-product", shop_id, index)
        product_id = "17" + _digits(r, 17)
        name = f"{r.choice(_PRODUCT_NAMES)} {index + 1:02d}"
        base = r.randrange(500, 9000)
        for variant_index in range(r.randint(1, 3)):
            variant = _VARIANTS[(index + variant_index) % len(_VARIANTS)]
            skus.append(
                Sku(
                    sku_id="17" + _digits(r, 17),
                    seller_sku=f"SB-{region}-{index + 1:03d}-{variant_index + 1}",
                    product_id=product_id,
                    product_name=name,
                    sku_name=variant,
                    price_cents=base + 100 * variant_index,
                )
            )
    return tuple(skus)


def _seed(shop_id: str, prefix: str, index: int, anchor: int) -> OrderSeed:
    r = generator.rng("shop-order", shop_id, index)
    created = anchor - 1 - int(r.random() * HISTORY_SECONDS)
    steps = FAST_STEP_SECONDS if r.random() < FAST_SHARE else STEP_SECONDS
    if steps is FAST_STEP_SECONDS:
        created = anchor - 1 - r.randrange(0, 1800)
    times, statuses = [created], [TIMELINE[0]]
    roll = r.random()
    cancel_at = 1 if roll < CANCEL_UNPAID_SHARE else None
    if cancel_at is None and roll < CANCEL_UNPAID_SHARE + CANCEL_AWAITING_SHARE:
        cancel_at = 2
    for step, (low, high) in enumerate(steps, start=1):
        at = times[-1] + r.randint(low, high)
        if cancel_at == step:
            times.append(at)
            statuses.append(CANCELLED)
            break
        times.append(at)
        statuses.append(TIMELINE[step])
    return OrderSeed(
        index=index,
        order_id=f"57{prefix}{index:010d}",
        times=tuple(times),
        statuses=tuple(statuses),
    )


@functools.lru_cache(maxsize=16)
def shop_orders(shop_id: str, region: str, anchor: int, count: int) -> ShopOrders:
    prefix = _digits(generator.rng("shop-order-prefix", shop_id), 6)
    seeds = tuple(_seed(shop_id, prefix, index, anchor) for index in range(count))
    return ShopOrders(
        shop_id=shop_id,
        region=region,
        anchor=anchor,
        seeds=seeds,
        by_id={seed.order_id: seed for seed in seeds},
        skus=shop_skus(shop_id, region),
    )


def orders_for(shop: dict, account_id: str) -> ShopOrders:
    """The orders of one generated shop (``generator.shops``) of a seller.

    Packages shipped through the API (``SandboxShopRecord``) are laid over the
    generated timelines, so a shipped order reads back shipped everywhere.
    """
    from .shop_ops_data import with_shipments

    base = shop_orders(shop["id"], shop["region"], shop_anchor(account_id), orders_per_shop())
    return with_shipments(base)


# --- state at a time ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderState:
    seed: OrderSeed
    position: int

    @property
    def status(self) -> str:
        return self.seed.statuses[self.position]

    @property
    def update_time(self) -> int:
        return self.seed.times[self.position]

    @property
    def create_time(self) -> int:
        return self.seed.times[0]

    @property
    def order_id(self) -> str:
        return self.seed.order_id

    def time_of(self, status: str) -> int | None:
        if status in self.seed.statuses[: self.position + 1]:
            return self.seed.times[self.seed.statuses.index(status)]
        return None


def states_at(shop: ShopOrders, at: int) -> list[OrderState]:
    """Every order that exists at ``at``, with its status then."""
    states = []
    for seed in shop.seeds:
        position = seed.position(at)
        if position >= 0:
            states.append(OrderState(seed, position))
    return states


def state_of(shop: ShopOrders, order_id: str, at: int) -> OrderState | None:
    seed = shop.by_id.get(order_id)
    if seed is None or seed.position(at) < 0:
        return None
    return OrderState(seed, seed.position(at))


def latest_changes(shop: ShopOrders, at: int, count: int = 1) -> list[OrderState]:
    """The orders whose status changed most recently before ``at`` (newest first)."""
    moved = [s for s in states_at(shop, at) if s.position > 0]
    return sorted(moved, key=lambda s: (s.update_time, s.order_id), reverse=True)[:count]


# --- search ------------------------------------------------------------------------------------


class BadPageToken(ValueError):
    pass


@dataclass(frozen=True)
class SearchQuery:
    page_size: int
    sort_field: str = "create_time"
    sort_order: str = "DESC"
    page_token: str = ""
    order_status: str = ""
    create_time_ge: int | None = None
    create_time_lt: int | None = None
    update_time_ge: int | None = None
    update_time_lt: int | None = None


@dataclass(frozen=True)
class SearchPage:
    states: list[OrderState]
    next_page_token: str
    total_count: int


def encode_token(payload: dict) -> str:
    """Standard base64 (it holds ``/`` and ``+``, like TikTok's tokens) of a small JSON."""
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(raw).digest()[:6]
    return base64.b64encode(digest + raw).decode()


def decode_token(token: str) -> dict:
    try:
        blob = base64.b64decode(token.encode(), validate=True)
        digest, raw = blob[:6], blob[6:]
        if hashlib.sha256(raw).digest()[:6] != digest:
            raise BadPageToken("page_token is invalid")
        return json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise BadPageToken("page_token is invalid") from exc


def _sort_key(state: OrderState, field: str) -> tuple[int, str]:
    value = state.update_time if field == "update_time" else state.create_time
    return (value, state.order_id)


def search(shop: ShopOrders, query: SearchQuery, at: int) -> SearchPage:
    """One page of ``orders/search``: filter, sort, then keyset-page from the token.

    The token carries the last key returned and the upper bound "now" had on
    the first page (a missing ``*_lt`` means now, and it must not move while
    a walk pages), so a walk neither skips nor repeats orders whatever happens
    in between, and a checkpointed token still works after a crash.
    """
    position: dict | None = None
    now_bound = at
    if query.page_token:
        position = decode_token(query.page_token)
        now_bound = int(position.get("now", at))
    field = "update_time" if query.sort_field == "update_time" else "create_time"
    descending = query.sort_order.upper() != "ASC"
    states = [s for s in states_at(shop, now_bound) if _matches(s, query, now_bound)]
    states.sort(key=lambda s: _sort_key(s, field), reverse=descending)
    total = len(states)
    if position is not None:
        last = (int(position["key"][0]), str(position["key"][1]))
        if descending:
            states = [s for s in states if _sort_key(s, field) < last]
        else:
            states = [s for s in states if _sort_key(s, field) > last]
    page = states[: query.page_size]
    more = len(states) > query.page_size
    token = ""
    if more and page:
        token = encode_token({"key": list(_sort_key(page[-1], field)), "now": now_bound})
    return SearchPage(states=page, next_page_token=token, total_count=total)


def _matches(state: OrderState, query: SearchQuery, now_bound: int) -> bool:
    if query.order_status and state.status != _api_status(query.order_status):
        return False
    upper = query.update_time_lt if query.update_time_lt is not None else now_bound + 1
    if not (query.update_time_ge or 0) <= state.update_time < upper:
        return False
    if query.create_time_ge is not None and state.create_time < query.create_time_ge:
        return False
    return query.create_time_lt is None or state.create_time < query.create_time_lt


def _api_status(status: str) -> str:
    return CANCELLED if status.upper() in {"CANCEL", "CANCELLED"} else status.upper()


# --- full order objects ------------------------------------------------------------------------


def _money(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def order_object(shop: ShopOrders, state: OrderState) -> dict:
    """The 202309 order object (the fields the contract lists), as search and detail give it."""
    seed = state.seed
    r = generator.rng("shop-order-detail", shop.shop_id, seed.index)
    currency = _CURRENCY.get(shop.region, "USD")
    lines = []
    for number, sku in enumerate(r.sample(shop.skus, r.randint(1, 3))):
        for unit in range(r.randint(1, 3)):
            discount = sku.price_cents // 10 if r.random() < 0.2 else 0
            lines.append(_line_item(seed, sku, currency, number, unit, discount))
    sub_total = sum(sku_price for sku_price in (_cents(line["sale_price"]) for line in lines))
    shipping = r.choice((0, 299, 499))
    seller_discount = sum(_cents(line["seller_discount"]) for line in lines)
    tax = sub_total * 8 // 100 if shop.region == "US" else 0
    status = state.status
    paid = state.time_of("AWAITING_SHIPMENT")
    shipped = state.position >= TIMELINE.index("AWAITING_COLLECTION") and status != CANCELLED
    shipment = shop.shipments.get(seed.order_id) if shipped else None
    tracking = f"SB{seed.order_id[-10:]}{shop.region}" if shipped else ""
    provider_id, provider = ("6617675021119438849", "Sandbox Express") if shipped else ("", "")
    if shipment:
        tracking = shipment["tracking_number"]
        provider_id, provider = shipment["shipping_provider_id"], shipment["shipping_provider"]
    has_package = paid is not None and (status != CANCELLED or shipped)
    buyer = generator.rng("shop-buyer", shop.shop_id, seed.index)
    first, last = buyer.choice(_FIRST), buyer.choice(_LAST)
    order = {
        "id": seed.order_id,
        "status": status,
        "create_time": state.create_time,
        "update_time": state.update_time,
        "paid_time": paid,
        "user_id": "72" + _digits(buyer, 17),
        "buyer_email": f"v{seed.order_id[-8:]}@scs2.tiktok.com",
        "buyer_message": "Please gift wrap" if buyer.random() < 0.1 else "",
        "fulfillment_type": "FULFILLMENT_BY_SELLER",
        "shipping_type": "TIKTOK",
        "delivery_type": "HOME_DELIVERY",
        "is_cod": False,
        "is_on_hold_order": False,
        "is_sample_order": False,
        "warehouse_id": "73" + _digits(generator.rng("shop-warehouse", shop.shop_id), 17),
        "shipping_provider": provider,
        "shipping_provider_id": provider_id,
        "tracking_number": tracking,
        "packages": [{"id": f"11{seed.order_id[2:]}"}] if has_package else [],
        "payment": {
            "currency": currency,
            "sub_total": _money(sub_total),
            "shipping_fee": _money(shipping),
            "seller_discount": _money(seller_discount),
            "platform_discount": "0.00",
            "tax": _money(tax),
            "total_amount": _money(sub_total + shipping + tax),
            "original_total_product_price": _money(sub_total + seller_discount),
            "original_shipping_fee": _money(shipping),
        },
        "line_items": lines,
    }
    for line in lines if has_package else ():
        line["package_id"] = f"11{seed.order_id[2:]}"
        if shipped:
            line.update(package_status="PROCESSING", tracking_number=tracking)
            line.update(shipping_provider_id=provider_id, shipping_provider_name=provider)
    if status == CANCELLED:
        order["cancel_reason"] = "Buyer did not pay in time" if paid is None else "Out of stock"
        order["cancellation_initiator"] = "SYSTEM" if paid is None else "SELLER"
        order["cancel_time"] = state.update_time
    if status not in {"UNPAID", "ON_HOLD"}:
        order["recipient_address"] = _address(buyer, shop.region, first, last)
    return order


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


def _line_item(seed: OrderSeed, sku: Sku, currency: str, number: int, unit: int, discount: int):
    return {
        "id": f"{seed.order_id}{number}{unit}",
        "sku_id": sku.sku_id,
        "seller_sku": sku.seller_sku,
        "product_id": sku.product_id,
        "product_name": sku.product_name,
        "sku_name": sku.sku_name,
        "sku_image": f"https://p16-oec-sandbox.example/{sku.sku_id}.jpeg",
        "original_price": _money(sku.price_cents),
        "sale_price": _money(sku.price_cents - discount),
        "seller_discount": _money(discount),
        "platform_discount": "0.00",
        "currency": currency,
        "display_status": "",
        "package_status": "TO_FULFILL",
        "is_gift": False,
    }


def _address(r, region: str, first: str, last: str) -> dict:
    number = r.randint(1, 250)
    street = r.choice(_STREETS)
    postal = _digits(r, 5)
    return {
        "full_address": f"{number} {street}, {postal}, {region}",
        "name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        "phone_number": f"(+00){_digits(r, 9)}",
        "address_line1": f"{number} {street}",
        "address_line2": "",
        "address_detail": "",
        "postal_code": postal,
        "region_code": region,
        "district_info": [
            {"address_level": "L0", "address_level_name": "Country", "address_name": region}
        ],
    }


# --- webhooks ----------------------------------------------------------------------------------


def order_status_event(shop: ShopOrders, state: OrderState, *, pushed_at: int) -> dict:
    """A type 1 (ORDER_STATUS_CHANGE) push for this order's current status.

    ``tts_notification_id`` is derived from the order and the change, so firing
    the same change twice is a redelivery, as TikTok's retries are.
    """
    return {
        "type": 1,
        "tts_notification_id": notification_id("order", state.order_id, state.update_time),
        "shop_id": shop.shop_id,
        "timestamp": pushed_at,
        "data": {
            "is_on_hold_order": False,
            "order_id": state.order_id,
            "order_status": state.status,
            "update_time": state.update_time,
        },
    }


def notification_id(*parts: object) -> str:
    """A stable 19-digit ``tts_notification_id`` for the event these parts describe."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
    return str(7 * 10**18 + int(digest[:15], 16) % 10**18)
