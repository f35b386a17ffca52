"""Deterministic TikTok Shop operations for the sandbox: packages, returns, chats, finance.

Everything here derives from the generated orders of :mod:`shop_data` (a pure
function of the shop, the order index and the seller's anchor) and from the
sandbox clock, with what API callers did (``SandboxShopRecord``) laid over it:

- **Packages**: every paid order has one package, ``11`` + the order id
  without its ``57`` prefix, holding all its line items. Its status follows the
  order: ``AWAITING_SHIPMENT`` → ``PROCESSING``, ``AWAITING_COLLECTION`` and
  ``IN_TRANSIT`` → ``FULFILLING``, ``DELIVERED``/``COMPLETED`` → ``COMPLETED``.
  A ship call (``PACKAGE_SHIPPED`` record) rewrites the order's timeline from
  the ship time on (:func:`with_shipments`): collection at the ship time, then
  the original step lengths, so the order moves on and its ``update_time``
  moves for incremental syncs.
- **Returns**: about :data:`RETURN_SHARE` of delivered orders get a buyer
  request between 1 h and 2 days after delivery (before the order completes).
  A request is pending until the seller decides (``RETURN_DECIDED`` record) or
  until its deadline (:data:`RETURN_DEADLINE_SECONDS` after creation), when the
  platform approves it on its own.
- **Customer service**: every buyer of the shop has one conversation id
  (:func:`conversation_id`); about :data:`CHAT_SHARE` of orders have a chat of
  1 to 4 messages starting after the order, buyer first. Messages later than
  the clock do not exist yet. Messages sent through the API or by the
  sandbox's "buyer" (``MESSAGE_SENT`` records) are added to them.
- **Finance**: each ``COMPLETED`` order settles in the daily statement at the
  first 00:00 UTC after its completion. Amounts are integer cents:
  ``settlement = revenue + fee + shipping_cost + adjustment`` per order, and a
  statement is the sum of its orders, so every total equals the sum of its
  transactions to the cent. One payment per statement, ``PAID`` two days
  after the statement, ``PROCESSING`` before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings

from . import generator, shop_data
from .shop_data import (
    CANCELLED,
    STEP_SECONDS,
    TIMELINE,
    OrderSeed,
    OrderState,
    ShopOrders,
)
from .tiktok_shop_signing import webhook_signature

logger = logging.getLogger(__name__)
DAY = 86400

# --- packages and logistics -------------------------------------------------------------------

PACKAGE_STATUS = {
    "AWAITING_SHIPMENT": "PROCESSING",
    "AWAITING_COLLECTION": "FULFILLING",
    "IN_TRANSIT": "FULFILLING",
    "DELIVERED": "COMPLETED",
    "COMPLETED": "COMPLETED",
    CANCELLED: "CANCELLED",
}
#: (id, name) of the carriers a seller may ship with; the first is what generated
#: shipped orders carry (``shop_data.order_object``).
SHIPPING_PROVIDERS = (
    ("6617675021119438849", "Sandbox Express"),
    ("6617675021119438850", "Sandbox Post"),
    ("6617675021119438851", "Sandbox Freight"),
)
#: (id, name, description, provider ids) per warehouse.
DELIVERY_OPTIONS = (
    (
        "7091146663229654785",
        "Standard shipping",
        "Delivered in 3 to 7 business days",
        tuple(p[0] for p in SHIPPING_PROVIDERS),
    ),
    (
        "7091146663229654786",
        "Express shipping",
        "Delivered in 1 to 2 business days",
        (SHIPPING_PROVIDERS[0][0],),
    ),
)
HANDOVER_METHODS = ("PICKUP", "DROP_OFF")
MAX_TRACKING_NUMBER = 50


def order_warehouse_id(shop_id: str) -> str:
    """The ``warehouse_id`` orders carry (drawn as ``shop_data.order_object`` draws it)."""
    r = generator.rng("shop-warehouse", shop_id)
    return "73" + "".join(r.choice("0123456789") for _ in range(17))


def provider_name(provider_id: str) -> str | None:
    return next((name for pid, name in SHIPPING_PROVIDERS if pid == provider_id), None)


def package_id_of(order_id: str) -> str:
    return "11" + order_id[2:]


def order_id_of(package_id: str) -> str:
    return "57" + package_id[2:] if package_id.startswith("11") else ""


def shipment_records(shop_id: str) -> list[dict]:
    """What ship calls stored for the shop (one query), oldest first."""
    from .models import SandboxShopRecord

    return list(
        SandboxShopRecord.objects.filter(
            kind=SandboxShopRecord.Kind.PACKAGE_SHIPPED, shop_id=shop_id
        ).values_list("data", flat=True)
    )


def shipped_seed(shop_id: str, seed: OrderSeed, ship_time: int) -> OrderSeed:
    """The order's timeline once the seller shipped it at ``ship_time``.

    Creation and payment stay; collection happens at the ship time; the later
    steps keep their original lengths (generated ones when the order was to be
    cancelled before shipping).
    """
    times = [*seed.times[:2], ship_time]
    r = generator.rng("shop-shipped", shop_id, seed.index)
    for step in range(3, len(TIMELINE)):
        if step < len(seed.times) and seed.statuses[step] == TIMELINE[step]:
            gap = seed.times[step] - seed.times[step - 1]
        else:
            low, high = STEP_SECONDS[step - 1]
            gap = r.randint(low, high)
        times.append(times[-1] + gap)
    return OrderSeed(
        index=seed.index, order_id=seed.order_id, times=tuple(times), statuses=TIMELINE
    )


def with_shipments(base: ShopOrders, records: Iterable[dict] | None = None) -> ShopOrders:
    """``base`` with every package shipped through the API laid over its order's timeline."""
    records = shipment_records(base.shop_id) if records is None else list(records)
    if not records:
        return base
    seeds = list(base.seeds)
    by_id = dict(base.by_id)
    shipments: dict[str, dict] = {}
    for data in records:
        seed = base.by_id.get(str(data.get("order_id", "")))
        if seed is None:
            continue
        replaced = shipped_seed(base.shop_id, seed, int(data["ship_time"]))
        seeds[seed.index] = replaced
        by_id[seed.order_id] = replaced
        shipments[seed.order_id] = data
    return dataclasses.replace(base, seeds=tuple(seeds), by_id=by_id, shipments=shipments)


def has_package(state: OrderState) -> bool:
    """Paid orders have a package; one cancelled before shipping keeps none."""
    return state.time_of("AWAITING_SHIPMENT") is not None and state.status != CANCELLED


def package_status(state: OrderState) -> str:
    return PACKAGE_STATUS[state.status]


def package_object(shop: ShopOrders, state: OrderState) -> dict:
    """A 202309 package: ``packages/search`` row and ``packages/{id}`` detail share it."""
    order = shop_data.order_object(shop, state)
    status = package_status(state)
    skus: dict[str, dict] = {}
    for line in order["line_items"]:
        sku = skus.setdefault(
            line["sku_id"],
            {
                "id": line["sku_id"],
                "name": line["sku_name"],
                "product_name": line["product_name"],
                "image_url": line["sku_image"],
                "quantity": 0,
            },
        )
        sku["quantity"] += 1
    shipment = shop.shipments.get(state.order_id) or {}
    return {
        "id": package_id_of(state.order_id),
        "status": status,
        "package_status": status,
        "orders": [{"id": state.order_id, "skus": list(skus.values())}],
        "order_line_item_ids": [line["id"] for line in order["line_items"]],
        "tracking_number": order["tracking_number"],
        "shipping_provider_id": order["shipping_provider_id"],
        "shipping_provider_name": order["shipping_provider"],
        "shipping_type": "SELLER" if shipment.get("self_shipment") else "TIKTOK",
        "handover_method": shipment.get("handover_method", ""),
        "create_time": state.time_of("AWAITING_SHIPMENT"),
        "update_time": state.update_time,
    }


def packaged_states(shop: ShopOrders, at: int) -> list[OrderState]:
    return [state for state in shop_data.states_at(shop, at) if has_package(state)]


def tracking_events(shop: ShopOrders, state: OrderState) -> list[dict]:
    """The carrier's events of a shipped order, newest first (``update_time_millis``)."""
    labels = {
        "AWAITING_COLLECTION": "Shipping label created; the carrier awaits the parcel",
        "IN_TRANSIT": "Parcel collected by the carrier and in transit",
        "DELIVERED": "Parcel delivered",
    }
    events = []
    for status, text in labels.items():
        at = state.time_of(status)
        if at is not None:
            events.append({"description": text, "update_time_millis": at * 1000})
    return sorted(events, key=lambda e: e["update_time_millis"], reverse=True)


# --- returns ----------------------------------------------------------------------------------

RETURN_SHARE = 0.10
DEMO_RETURNS = 3
RETURN_DEADLINE_SECONDS = 3 * DAY
PENDING = "RETURN_OR_REFUND_REQUEST_PENDING"
REJECTED = "REFUND_OR_RETURN_REQUEST_REJECT"
APPROVED = {
    "REFUND": "RETURN_OR_REFUND_REQUEST_SUCCESS",
    "RETURN_AND_REFUND": "AWAITING_BUYER_SHIP",
}
APPROVE_DECISIONS = ("APPROVE_REFUND", "APPROVE_RETURN", "OFFER_PARTIAL_REFUND")
REJECT_DECISIONS = ("REJECT_REFUND", "REJECT_RETURN")
#: decisions that only make sense once the buyer shipped the item back (never pending here)
RECEIVED_DECISIONS = ("APPROVE_RECEIVED_PACKAGE", "REJECT_RECEIVED_PACKAGE")
RETURN_REASONS = (
    ("ecom_order_delivered_refund_and_return_reason_damaged", "Item arrived damaged"),
    ("ecom_order_delivered_refund_and_return_reason_wrong_item", "Wrong item was sent"),
    ("ecom_order_delivered_refund_and_return_reason_not_as_described", "Not as described"),
    ("ecom_order_delivered_refund_and_return_reason_no_longer_needed", "No longer needed"),
    ("ecom_order_delivered_refund_reason_missing_item", "Package or item missing"),
)
REJECT_REASONS = (
    ("reverse_reject_request_reason_1", "The item was delivered in good condition"),
    ("reverse_reject_request_reason_2", "The buyer asked after the return window"),
    ("reverse_reject_request_reason_3", "The item shows signs of use"),
    ("reverse_reject_request_reason_4", "The photos do not show the problem described"),
    ("reverse_reject_request_reason_5", "Agreed with the buyer to keep the order"),
)


@dataclass(frozen=True)
class ReturnSeed:
    return_id: str
    order_id: str
    index: int
    return_type: str
    reason: tuple[str, str]
    create_time: int
    #: how many of the order's line items come back (the first ones)
    line_count: int

    @property
    def deadline(self) -> int:
        return self.create_time + RETURN_DEADLINE_SECONDS


@dataclass(frozen=True)
class ReturnState:
    seed: ReturnSeed
    status: str
    update_time: int
    decision: dict | None


def return_id_of(order_id: str) -> str:
    return "46" + order_id[2:]


def return_seeds(shop: ShopOrders) -> list[ReturnSeed]:
    """Every buyer request the shop will ever get, whatever the clock says (memoised).

    About :data:`RETURN_SHARE` of delivered orders, plus :data:`DEMO_RETURNS` "demo"
    requests: the orders delivered last before the anchor get one created in
    the day before the anchor, so even a small shop has requests awaiting the
    seller when it connects.
    """
    key = (
        shop.shop_id,
        shop.anchor,
        len(shop.seeds),
        tuple(sorted((oid, d.get("ship_time")) for oid, d in shop.shipments.items())),
    )
    if key not in _RETURNS:
        if len(_RETURNS) > 32:
            _RETURNS.clear()
        _RETURNS[key] = _return_seeds(shop)
    return _RETURNS[key]


_RETURNS: dict[tuple, list[ReturnSeed]] = {}


def _return_seeds(shop: ShopOrders) -> list[ReturnSeed]:
    delivered_at_anchor = sorted(
        (
            seed
            for seed in shop.seeds
            if (position := seed.position(shop.anchor)) >= 0
            and seed.statuses[position] == "DELIVERED"
        ),
        key=lambda seed: (seed.times[seed.statuses.index("DELIVERED")], seed.order_id),
        reverse=True,
    )
    demo = {seed.order_id for seed in delivered_at_anchor[:DEMO_RETURNS]}
    seeds = []
    for seed in shop.seeds:
        if "DELIVERED" not in seed.statuses:
            continue
        r = generator.rng("shop-return", shop.shop_id, seed.index)
        delivered = seed.times[seed.statuses.index("DELIVERED")]
        if seed.order_id in demo:
            earliest = max(delivered + 1, shop.anchor - DAY)
            created = r.randint(earliest, max(earliest, shop.anchor - 60))
        elif r.random() < RETURN_SHARE:
            created = delivered + r.randint(3600, 2 * DAY)
            if "COMPLETED" in seed.statuses and created >= seed.times[-1]:
                continue
        else:
            continue
        seeds.append(
            ReturnSeed(
                return_id=return_id_of(seed.order_id),
                order_id=seed.order_id,
                index=seed.index,
                return_type=r.choice(("REFUND", "RETURN_AND_REFUND")),
                reason=r.choice(RETURN_REASONS),
                create_time=created,
                line_count=r.randint(1, 3),
            )
        )
    return seeds


def return_seed_of(shop: ShopOrders, return_id: str) -> ReturnSeed | None:
    return next((s for s in return_seeds(shop) if s.return_id == return_id), None)


def return_state(seed: ReturnSeed, decision: dict | None, at: int) -> ReturnState | None:
    if seed.create_time > at:
        return None
    if decision is not None:
        return ReturnState(seed, decision["return_status"], int(decision["decided_at"]), decision)
    if at >= seed.deadline:
        return ReturnState(seed, APPROVED[seed.return_type], seed.deadline, None)
    return ReturnState(seed, PENDING, seed.create_time, None)


def returns_at(shop: ShopOrders, decisions: dict[str, dict], at: int) -> list[ReturnState]:
    states = []
    for seed in return_seeds(shop):
        state = return_state(seed, decisions.get(seed.return_id), at)
        if state is not None:
            states.append(state)
    return states


def decided_status(return_type: str, action: str) -> str:
    return APPROVED[return_type] if action == "approve" else REJECTED


def return_object(shop: ShopOrders, state: ReturnState) -> dict:
    """A ``return_orders[]`` row of ``returns/search``."""
    seed = state.seed
    order_state = shop_data.state_of(shop, seed.order_id, 2**40)
    order = shop_data.order_object(shop, order_state)
    lines = order["line_items"][: seed.line_count]
    payment = order["payment"]
    currency = payment["currency"]
    sub_total = _cents(payment["sub_total"])
    refund_subtotal = sum(_cents(line["sale_price"]) for line in lines)
    whole = len(lines) == len(order["line_items"])
    refund_shipping = _cents(payment["shipping_fee"]) if whole else 0
    refund_tax = _cents(payment["tax"]) * refund_subtotal // sub_total if sub_total else 0
    total = refund_subtotal + refund_shipping + refund_tax
    pending = state.status == PENDING
    action = "SELLER_RESPOND_REFUND" if seed.return_type == "REFUND" else "SELLER_RESPOND_RETURN"
    row = {
        "return_id": seed.return_id,
        "order_id": seed.order_id,
        "return_type": seed.return_type,
        "return_status": state.status,
        "role": "BUYER",
        "return_reason": seed.reason[0],
        "return_reason_text": seed.reason[1],
        "refund_amount": {
            "currency": currency,
            "refund_total": money(total),
            "refund_subtotal": money(refund_subtotal),
            "refund_shipping_fee": money(refund_shipping),
            "refund_tax": money(refund_tax),
        },
        "return_line_items": [
            {
                "return_line_item_id": f"{seed.return_id}{n}",
                "order_line_item_id": line["id"],
                "sku_id": line["sku_id"],
                "seller_sku": line["seller_sku"],
                "product_name": line["product_name"],
                "sku_name": line["sku_name"],
                "product_image": {"url": line["sku_image"]},
                "refund_amount": {
                    "currency": currency,
                    "refund_total": line["sale_price"],
                    "refund_subtotal": line["sale_price"],
                },
            }
            for n, line in enumerate(lines)
        ],
        "return_tracking_number": "",
        "seller_next_action_response": (
            [{"action": action, "deadline": seed.deadline}] if pending else []
        ),
        "buyer_user_id": order["user_id"],
        "create_time": seed.create_time,
        "update_time": state.update_time,
    }
    if state.decision and state.decision.get("reject_reason"):
        row["seller_reject_reason"] = state.decision["reject_reason"]
    return row


# --- customer service ---------------------------------------------------------------------------

CHAT_SHARE = 0.08
_BUYER_LINES = (
    "Hi! When will my order ship?",
    "Can I change the colour of my order?",
    "The tracking has not moved for two days.",
    "Is this item available in a larger size?",
    "Thanks, it arrived today!",
    "Can you add a gift note please?",
)
_SHOP_LINES = (
    "Hello! Your order ships within 2 business days.",
    "Thanks for reaching out, let me check that for you.",
    "We have contacted the carrier and will update you soon.",
    "Glad you like it! Enjoy.",
)


def _hashed_digits(prefix: str, *parts: object, length: int = 17) -> str:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
    return prefix + str(int(digest[:20], 16) % 10**length).zfill(length)


def buyer_user_id(shop_id: str, index: int) -> str:
    """The ``user_id`` of the order's buyer, drawn as ``shop_data.order_object`` draws it."""
    buyer = generator.rng("shop-buyer", shop_id, index)
    buyer.choice(shop_data._FIRST), buyer.choice(shop_data._LAST)
    return "72" + "".join(buyer.choice("0123456789") for _ in range(17))


def buyer_nickname(shop_id: str, index: int) -> str:
    buyer = generator.rng("shop-buyer", shop_id, index)
    first, last = buyer.choice(shop_data._FIRST), buyer.choice(shop_data._LAST)
    return f"{first} {last[0]}."


def conversation_id(shop_id: str, user_id: str) -> str:
    return _hashed_digits("76", "conversation", shop_id, user_id)


def shop_im_user_id(shop_id: str) -> str:
    return _hashed_digits("78", "shop-im", shop_id)


def buyer_im_user_id(shop_id: str, user_id: str) -> str:
    return _hashed_digits("79", "buyer-im", shop_id, user_id)


@dataclass(frozen=True)
class Buyer:
    user_id: str
    index: int
    nickname: str
    conversation_id: str


_BUYERS: dict[tuple[str, int], dict[str, Buyer]] = {}


def buyers(shop: ShopOrders) -> dict[str, Buyer]:
    """Conversation id -> the buyer it belongs to, for every buyer of the shop (memoised)."""
    key = (shop.shop_id, len(shop.seeds))
    if key not in _BUYERS:
        table = {}
        for seed in shop.seeds:
            user_id = buyer_user_id(shop.shop_id, seed.index)
            cid = conversation_id(shop.shop_id, user_id)
            table[cid] = Buyer(user_id, seed.index, buyer_nickname(shop.shop_id, seed.index), cid)
        if len(_BUYERS) > 16:
            _BUYERS.clear()
        _BUYERS[key] = table
    return _BUYERS[key]


def message_object(
    *,
    message_id: str,
    index: int,
    create_time: int,
    role: str,
    im_user_id: str,
    nickname: str,
    content: str,
    type_: str = "TEXT",
) -> dict:
    return {
        "id": message_id,
        "index": str(index),
        "type": type_,
        "content": content,
        "create_time": create_time,
        "is_visible": True,
        "sender": {"im_user_id": im_user_id, "role": role, "nickname": nickname, "avatar": ""},
    }


def text_content(text: str) -> str:
    """A TEXT message's ``content``: a JSON *string* holding ``{"content": ...}``."""
    return json.dumps({"content": text}, separators=(",", ":"))


def generated_messages(shop: ShopOrders, buyer: Buyer) -> list[dict]:
    """The chat the buyer had with the shop (all times, newest last); empty for most buyers."""
    r = generator.rng("shop-chat", shop.shop_id, buyer.index)
    if r.random() >= CHAT_SHARE:
        return []
    seed = shop.seeds[buyer.index]
    at = seed.times[0] + r.randint(600, 3 * DAY)
    messages = []
    for n in range(r.randint(1, 4)):
        role = "BUYER" if n % 2 == 0 else "SHOP"
        text = r.choice(_BUYER_LINES if role == "BUYER" else _SHOP_LINES)
        messages.append(
            message_object(
                message_id=_hashed_digits("77", "message", buyer.conversation_id, n),
                index=at * 1000 + n,
                create_time=at,
                role=role,
                im_user_id=_im_user(shop.shop_id, buyer, role),
                nickname=buyer.nickname if role == "BUYER" else "Shop",
                content=text_content(text),
            )
        )
        at += r.randint(60, 6 * 3600)
    return messages


def _im_user(shop_id: str, buyer: Buyer, role: str) -> str:
    if role == "BUYER":
        return buyer_im_user_id(shop_id, buyer.user_id)
    return shop_im_user_id(shop_id)


def recorded_message(shop_id: str, buyer: Buyer, data: dict) -> dict:
    """A ``MESSAGE_SENT`` record (seller reply or sandbox buyer message) as a message."""
    role = data["role"]
    return message_object(
        message_id=data["message_id"],
        index=int(data["index"]),
        create_time=int(data["create_time"]),
        role=role,
        im_user_id=_im_user(shop_id, buyer, role),
        nickname=buyer.nickname if role == "BUYER" else "Shop",
        content=data["content"],
        type_=data.get("type", "TEXT"),
    )


def new_message_id(conversation: str, create_time: int, salt: str) -> str:
    return _hashed_digits("77", "sent", conversation, create_time, salt)


def new_message_event(shop_id: str, conversation: str, message: dict, *, pushed_at: int) -> dict:
    """A type 14 (NEW_MESSAGE) push for ``message`` (contract §3.5)."""
    return {
        "type": 14,
        "tts_notification_id": shop_data.notification_id("message", message["id"]),
        "shop_id": shop_id,
        "timestamp": pushed_at,
        "data": {
            "message_id": message["id"],
            "index": message["index"],
            "conversation_id": conversation,
            "type": message["type"],
            "content": message["content"],
            "create_time": message["create_time"],
            "is_visible": message["is_visible"],
            "sender": {
                "im_user_id": message["sender"]["im_user_id"],
                "role": message["sender"]["role"],
            },
        },
    }


def package_update_event(shop_id: str, package_id: str, order_id: str, *, at: int) -> dict:
    """A type 4 (PACKAGE_UPDATE) push after the seller shipped ``package_id``."""
    return {
        "type": 4,
        "tts_notification_id": shop_data.notification_id("package", package_id, at),
        "shop_id": shop_id,
        "timestamp": at,
        "data": {
            "sc_type": "SPLIT",
            "role_type": "ROLE_SELLER",
            "package_list": [{"package_id": package_id, "order_id_list": [order_id]}],
            "update_time": at,
        },
    }


def return_status_event(shop_id: str, state: ReturnState, *, pushed_at: int) -> dict:
    """A type 12 (RETURN_STATUS_CHANGE) push for the return's current status."""
    seed = state.seed
    return {
        "type": 12,
        "tts_notification_id": shop_data.notification_id(
            "return", seed.return_id, state.status, state.update_time
        ),
        "shop_id": shop_id,
        "timestamp": pushed_at,
        "data": {
            "order_id": seed.order_id,
            "return_role": "BUYER",
            "return_type": seed.return_type,
            "return_status": state.status,
            "return_id": seed.return_id,
            "create_time": seed.create_time,
            "update_time": state.update_time,
        },
    }


# --- pushing webhooks to the hub ------------------------------------------------------------------

PUSH_TIMEOUT_SECONDS = 10


def hub_webhook_url() -> str:
    return f"{settings.PUBLIC_BASE_URL}/webhooks/tiktok-shop/"


def signed_push(body: dict, *, url: str | None = None, spoil: bool = False) -> requests.Response:
    """POST ``body`` to the hub as TikTok does: raw JSON, ``Authorization`` = hex
    HMAC-SHA256(app_secret, app_key + body) (contract §3.5). ``spoil`` breaks the signature."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    signature = webhook_signature(
        app_key=settings.TIKTOK_SHOP_APP_KEY,
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        raw_body=raw,
    )
    if spoil:
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    return requests.post(
        url or hub_webhook_url(),
        data=raw,
        headers={"Authorization": signature, "Content-Type": "application/json"},
        timeout=PUSH_TIMEOUT_SECONDS,
    )


def auto_push_enabled() -> bool:
    """``SANDBOX_SHOP_PUSH_WEBHOOKS``: push type 4/12 right after a ship or a decision."""
    return bool(getattr(settings, "SANDBOX_SHOP_PUSH_WEBHOOKS", False))


def push_later(body: dict) -> None:
    """After the current transaction commits, push ``body`` from a background thread.

    The API call that caused the event answers first, as TikTok's would; a hub
    that is down only loses this push (the hub's sync catches the change).
    """
    from django.db import transaction

    transaction.on_commit(lambda: _start(body))


def _start(body: dict) -> None:
    threading.Thread(target=_push_quietly, args=(body,), daemon=True).start()


def _push_quietly(body: dict) -> None:
    try:
        answer = signed_push(body)
        logger.info("sandbox push type %s: HTTP %s", body["type"], answer.status_code)
    except requests.RequestException as exc:
        logger.warning("sandbox push type %s failed: %s", body["type"], type(exc).__name__)


def store_message(
    *, shop_id: str, buyer: Buyer, role: str, type_: str, content: str, at: int
) -> dict:
    """Record a message (a seller reply, or a buyer message made by the sandbox) and return
    it as the messages list shows it."""
    from .models import SandboxShopRecord

    data = {
        "action": "send",
        "role": role,
        "type": type_,
        "content": content,
        "create_time": at,
        # after every generated message of the same second (their index is time*1000 + n)
        "index": at * 1000 + 500 + secrets.randbelow(400),
        "message_id": new_message_id(buyer.conversation_id, at, secrets.token_hex(4)),
    }
    SandboxShopRecord.objects.create(
        kind=SandboxShopRecord.Kind.MESSAGE_SENT,
        shop_id=shop_id,
        object_id=buyer.conversation_id,
        data=data,
    )
    return recorded_message(shop_id, buyer, data)


def buyer_writes(
    shop: ShopOrders, *, text: str, conversation: str = "", at: int
) -> tuple[dict, dict]:
    """A buyer sends ``text`` (to ``conversation``, else the chat that moved last): the stored
    message and its type 14 (NEW_MESSAGE) push body."""
    table = buyers(shop)
    if conversation:
        buyer = table.get(conversation)
        if buyer is None:
            raise KeyError(conversation)
    else:
        latest = max(
            (
                (messages[-1]["create_time"], b.conversation_id)
                for b in table.values()
                if (messages := [m for m in generated_messages(shop, b) if m["create_time"] <= at])
            ),
            default=None,
        )
        buyer = table[latest[1]] if latest else next(iter(table.values()))
    message = store_message(
        shop_id=shop.shop_id,
        buyer=buyer,
        role="BUYER",
        type_="TEXT",
        content=text_content(text),
        at=at,
    )
    return message, new_message_event(shop.shop_id, buyer.conversation_id, message, pushed_at=at)


# --- finance ------------------------------------------------------------------------------------

COMMISSION_PERCENT = 6
TRANSACTION_FEE_PERCENT = 2
ADJUSTMENT_SHARE = 0.04
PAID_AFTER_SECONDS = 2 * DAY


@dataclass(frozen=True)
class Settlement:
    """One order's statement transaction, in integer cents."""

    order_id: str
    order_create_time: int
    currency: str
    revenue: int
    commission: int
    transaction_fee: int
    shipping_fee_paid: int
    carrier_cost: int
    adjustment: int
    statement_time: int

    @property
    def fee(self) -> int:
        return -(self.commission + self.transaction_fee)

    @property
    def shipping_cost(self) -> int:
        return self.shipping_fee_paid - self.carrier_cost

    @property
    def settlement(self) -> int:
        return self.revenue + self.fee + self.shipping_cost + self.adjustment


_AMOUNTS: dict[tuple[str, int], tuple[str, int, int, int, int]] = {}


def _amounts(shop: ShopOrders, seed: OrderSeed) -> tuple[str, int, int, int, int]:
    """(currency, revenue, buyer shipping fee, carrier cost, adjustment) of an order (memoised)."""
    key = (shop.shop_id, seed.index)
    if key not in _AMOUNTS:
        payment = shop_data.order_object(shop, OrderState(seed, 0))["payment"]
        r = generator.rng("shop-settlement", shop.shop_id, seed.index)
        carrier = r.randint(350, 650)
        adjustment = r.choice((-1, 1)) * r.randint(100, 500) if r.random() < ADJUSTMENT_SHARE else 0
        if len(_AMOUNTS) > 200_000:
            _AMOUNTS.clear()
        _AMOUNTS[key] = (
            payment["currency"],
            _cents(payment["sub_total"]),
            _cents(payment["shipping_fee"]),
            carrier,
            adjustment,
        )
    return _AMOUNTS[key]


def settlements(shop: ShopOrders, at: int) -> list[Settlement]:
    """Every order settled in a statement issued by ``at`` (statement at 00:00 UTC after completion)."""
    rows = []
    for seed in shop.seeds:
        if seed.statuses[-1] != "COMPLETED":
            continue
        statement_time = (seed.times[-1] // DAY + 1) * DAY
        if statement_time > at:
            continue
        currency, revenue, shipping_fee, carrier, adjustment = _amounts(shop, seed)
        rows.append(
            Settlement(
                order_id=seed.order_id,
                order_create_time=seed.times[0],
                currency=currency,
                revenue=revenue,
                commission=revenue * COMMISSION_PERCENT // 100,
                transaction_fee=(revenue + shipping_fee) * TRANSACTION_FEE_PERCENT // 100,
                shipping_fee_paid=shipping_fee,
                carrier_cost=carrier,
                adjustment=adjustment,
                statement_time=statement_time,
            )
        )
    return rows


@dataclass(frozen=True)
class Statement:
    id: str
    payment_id: str
    statement_time: int
    currency: str
    transactions: tuple[Settlement, ...]

    def total(self, name: str) -> int:
        return sum(getattr(t, name) for t in self.transactions)

    def payment_status(self, at: int) -> str:
        return "PAID" if at >= self.paid_time else "PROCESSING"

    @property
    def paid_time(self) -> int:
        return self.statement_time + PAID_AFTER_SECONDS


def statements(shop: ShopOrders, at: int) -> list[Statement]:
    """The shop's daily statements issued by ``at``, oldest first."""
    by_day: dict[int, list[Settlement]] = {}
    for row in settlements(shop, at):
        by_day.setdefault(row.statement_time, []).append(row)
    result = []
    for day in sorted(by_day):
        rows = sorted(by_day[day], key=lambda t: (t.order_create_time, t.order_id))
        result.append(
            Statement(
                id=_hashed_digits("7", "statement", shop.shop_id, day, length=18),
                payment_id=_hashed_digits("8", "payment", shop.shop_id, day, length=18),
                statement_time=day,
                currency=rows[0].currency,
                transactions=tuple(rows),
            )
        )
    return result


def statement_object(statement: Statement, at: int) -> dict:
    return {
        "id": statement.id,
        "statement_time": statement.statement_time,
        "currency": statement.currency,
        "revenue_amount": money(statement.total("revenue")),
        "fee_amount": money(statement.total("fee")),
        "shipping_cost_amount": money(statement.total("shipping_cost")),
        "adjustment_amount": money(statement.total("adjustment")),
        "net_sales_amount": money(statement.total("revenue")),
        "settlement_amount": money(statement.total("settlement")),
        "payment_status": statement.payment_status(at),
        "payment_id": statement.payment_id,
    }


def payment_object(statement: Statement, at: int) -> dict:
    currency = statement.currency
    amount = money(statement.total("settlement"))
    status = statement.payment_status(at)
    row = {
        "id": statement.payment_id,
        "create_time": statement.statement_time,
        "status": status,
        "amount": {"value": amount, "currency": currency},
        "settlement_amount": {"value": amount, "currency": currency},
        "reserve_amount": {"value": "0.00", "currency": currency},
        "exchange_rate": "1",
        "bank_account": "**** **** 4821",
    }
    if status == "PAID":
        row["paid_time"] = statement.paid_time
    return row


def transaction_object(row: Settlement, statement: Statement | None = None) -> dict:
    data = {
        "id": _hashed_digits("6", "transaction", row.order_id, length=18),
        "type": "ORDER",
        "order_id": row.order_id,
        "order_create_time": row.order_create_time,
        "currency": row.currency,
        "revenue_amount": money(row.revenue),
        "fee_amount": money(row.fee),
        "shipping_cost_amount": money(row.shipping_cost),
        "adjustment_amount": money(row.adjustment),
        "settlement_amount": money(row.settlement),
        "revenue_breakdown": {"subtotal_after_seller_discounts_amount": money(row.revenue)},
        "fee_breakdown": {
            "platform_commission_amount": money(-row.commission),
            "transaction_fee_amount": money(-row.transaction_fee),
        },
        "shipping_cost_breakdown": {
            "customer_paid_shipping_fee_amount": money(row.shipping_fee_paid),
            "actual_shipping_fee_amount": money(-row.carrier_cost),
        },
    }
    if statement is not None:
        data["statement_id"] = statement.id
        data["statement_time"] = statement.statement_time
    return data


def known_month(anchor: int) -> tuple[int, int]:
    """The calendar month before the anchor's month, ``[first day, first day of next)`` (UTC).

    Its statements are all issued by the anchor (the browser test's "known month").
    """
    when = datetime.fromtimestamp(anchor, UTC)
    end = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=1)).replace(day=1)
    return int(start.timestamp()), int(end.timestamp())


# --- shared helpers ---------------------------------------------------------------------------


def money(cents: int) -> str:
    """Integer cents as a 2-decimal string (``-1.05``)."""
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def _cents(text: str) -> int:
    return int(Decimal(text) * 100)


class BadPageToken(ValueError):
    pass


@dataclass(frozen=True)
class Page:
    items: list
    next_page_token: str
    total_count: int


def keyset_page(
    items: Sequence[Any],
    key: Callable[[Any], tuple],
    *,
    page_size: int,
    after: tuple | None,
    descending: bool,
    bound: int,
) -> Page:
    """Sort ``items`` by ``key``, take the page after ``after``; the token keeps ``bound``."""
    ordered = sorted(items, key=key, reverse=descending)
    total = len(ordered)
    if after is not None:
        if descending:
            ordered = [i for i in ordered if key(i) < after]
        else:
            ordered = [i for i in ordered if key(i) > after]
    page = ordered[:page_size]
    token = ""
    if len(ordered) > page_size and page:
        token = shop_data.encode_token({"key": list(key(page[-1])), "now": bound})
    return Page(items=page, next_page_token=token, total_count=total)


def read_token(token: str, at: int) -> tuple[tuple | None, int]:
    """(last key, the clock bound of the walk) from a page token; ``(None, at)`` when empty."""
    if not token:
        return None, at
    try:
        payload = shop_data.decode_token(token)
        return tuple(payload["key"]), int(payload["now"])
    except (shop_data.BadPageToken, KeyError, TypeError, ValueError) as exc:
        raise BadPageToken("page_token is invalid") from exc
