"""TikTok Shop pushes: ``POST /webhooks/tiktok-shop/``, verified, stored once, then handled.

**Verify** (contract §3.5): the ``Authorization`` header (no "Bearer") is the
lowercase hex HMAC-SHA256, keyed with the app secret, of ``app_key + raw
body``; compared in constant time over ``request.body``, never re-serialised
JSON. Without an app key or secret nothing verifies.

**Split**: one delivery is one event ``{type, tts_notification_id, shop_id,
timestamp, data}``. The event id is ``tts_notification_id`` (TikTok's own,
the same on every retry); older pushes without one get ``type:shop_id:``
plus the SHA-256 of their ``data``, which is also stable across retries. The
event type is the Event API name of ``type`` (``ORDER_STATUS_CHANGE`` for 1,
see :data:`EVENT_TYPES`), ``TYPE_<n>`` for a type not listed; the account is
the shop id; the payload is the whole body (handlers read ``payload["data"]``).

**Handlers** (called by the inbox's drain with one ``WebhookEvent``):

- order status change (1) and recipient address update (3): refetch that
  order (one API call) and upsert it, its lines and its history;
- return (12), cancellation (11) and the legacy reverse-order update (2):
  noted on the order's status history; a return (12) is also fetched again
  and stored (``apps.tiktok_shop.returns.on_return_webhook``);
- package update (4): the orders named are fetched again with their packages
  (``apps.tiktok_shop.fulfillment.on_package_webhook``);
- product status change (5): ``apps.tiktok_shop.products.on_product_status_webhook``;
- seller deauthorization (6): the connection is disconnected;
- upcoming authorization expiration (7): the card turns ``expiring`` with the date;
- new conversation (13) and new message (14): the customer-service inbox
  (``apps.tiktok_shop.customer_service``): the message lands on its
  conversation's ticket in the leads inbox, without a call when the
  conversation is known.

Every handler routes through :func:`shop_for_event`; a shop no tenant has
connected raises ``UnknownAccount``, so the event is kept, flagged
``unroutable`` and not processed.

**Batches**: the drain enters :func:`prepare_batch` around the handlers of a
claimed batch: the shops of all its events are looked up in one query, and the
orders that two or more order pushes of a shop name are fetched again 50 a call
(``GET /order/202309/orders?ids=``) and upserted together; the handlers of
those events then find their order done. A failed batch fetch is logged and
left to the handlers, which fetch their order one by one as without a batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.integrations.models import ConnectionStatus
from apps.webhooks.models import WebhookEvent
from apps.webhooks.registry import (
    IncomingEvent,
    InvalidPayload,
    UnknownAccount,
    WebhookSource,
    json_body,
    webhooks,
)

from .models import OrderStatusChange, Shop
from .orders import unix_time
from .signing import verify_webhook

logger = logging.getLogger(__name__)

SOURCE_KEY = "tiktok-shop"
SIGNATURE_HEADER = "Authorization"

#: ``type`` -> Event API name (contract §3.5); unknown types become ``TYPE_<n>``.
EVENT_TYPES: dict[int, str] = {
    1: "ORDER_STATUS_CHANGE",
    2: "REVERSE_STATUS_UPDATE",
    3: "RECIPIENT_ADDRESS_UPDATE",
    4: "PACKAGE_UPDATE",
    5: "PRODUCT_STATUS_CHANGE",
    6: "SELLER_DEAUTHORIZATION",
    7: "UPCOMING_AUTHORIZATION_EXPIRATION",
    11: "CANCELLATION_STATUS_CHANGE",
    12: "RETURN_STATUS_CHANGE",
    13: "NEW_CONVERSATION",
    14: "NEW_MESSAGE",
    15: "PRODUCT_INFORMATION_CHANGE",
    16: "PRODUCT_CREATION",
}

HERE = "apps.tiktok_shop.webhooks"
#: event type -> dotted path of its handler; types not listed are stored and marked ignored.
HANDLERS: dict[str, str] = {
    "ORDER_STATUS_CHANGE": f"{HERE}.on_order_change",
    "RECIPIENT_ADDRESS_UPDATE": f"{HERE}.on_order_change",
    "PACKAGE_UPDATE": f"{HERE}.on_package_update",
    "REVERSE_STATUS_UPDATE": f"{HERE}.on_return_change",
    "RETURN_STATUS_CHANGE": f"{HERE}.on_return_change",
    "CANCELLATION_STATUS_CHANGE": f"{HERE}.on_cancellation_change",
    "PRODUCT_STATUS_CHANGE": "apps.tiktok_shop.products.on_product_status_webhook",
    "SELLER_DEAUTHORIZATION": f"{HERE}.on_seller_deauthorization",
    "UPCOMING_AUTHORIZATION_EXPIRATION": f"{HERE}.on_authorization_expiring",
    "NEW_CONVERSATION": "apps.tiktok_shop.customer_service.on_new_conversation",
    "NEW_MESSAGE": "apps.tiktok_shop.customer_service.on_new_message",
}


# --- the source ------------------------------------------------------------------------------


def verify(request: HttpRequest, body: bytes) -> bool:
    return verify_webhook(
        app_key=settings.TIKTOK_SHOP_APP_KEY,
        app_secret=settings.TIKTOK_SHOP_APP_SECRET,
        raw_body=body,
        authorization=request.headers.get(SIGNATURE_HEADER, ""),
    )


def event_type_of(type_number: int) -> str:
    return EVENT_TYPES.get(type_number, f"TYPE_{type_number}")


def event_id_of(body: dict[str, Any]) -> str:
    """``tts_notification_id``, else a hash of what the event says (stable across retries)."""
    notification = str(body.get("tts_notification_id") or "").strip()
    if notification:
        return notification
    data = json.dumps(body.get("data") or {}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(data.encode()).hexdigest()
    return f"{body.get('type')}:{body.get('shop_id') or ''}:{digest}"


def split(body: bytes) -> list[IncomingEvent]:
    data = json_body(body)
    try:
        type_number = int(data["type"])
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise InvalidPayload("expected a JSON object with an integer 'type'") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data", {}), dict):
        raise InvalidPayload("expected 'data' to be an object")
    return [
        IncomingEvent(
            event_id=event_id_of(data),
            event_type=event_type_of(type_number),
            payload=data,
            account_ref=str(data.get("shop_id") or ""),
            occurred_at=unix_time(data.get("timestamp")),
        )
    ]


def register() -> None:
    """Called from ``AppConfig.ready()``."""
    webhooks.register_source(
        WebhookSource(
            key=SOURCE_KEY,
            label="TikTok Shop",
            verify=verify,
            split=split,
            prepare=prepare_batch,
        )
    )
    for event_type, path in HANDLERS.items():
        webhooks.register_handler(SOURCE_KEY, event_type, path)


# --- routing --------------------------------------------------------------------------------


def _live_shops(shop_ids: set[str]):
    """Shops authorized on a connection that is not disconnected, the most recent
    connection of a shop first (several tenants may have connected the same shop)."""
    return (
        Shop.objects.filter(shop_id__in=shop_ids, authorized=True)
        .exclude(connection__status=ConnectionStatus.DISCONNECTED)
        .select_related("connection", "connection__tenant")
        .order_by("shop_id", "-connection__connected_at", "-pk")
    )


def shop_for_event(event: WebhookEvent) -> Shop:
    """The connected shop an event is about; sets ``event.tenant_id``.

    The shop must be authorized on a live connection. If several tenants
    connected the same shop, the most recent connection wins. Raises
    ``UnknownAccount`` otherwise: the inbox keeps the event as ``unroutable``.
    Inside :func:`prepare_batch` the batch's lookup answers, without a query.
    """
    batch = _batch.get()
    ref = event.account_ref
    if batch is not None and ref in batch.shops:
        shop = batch.shops[ref]
    else:
        shop = _live_shops({ref}).first() if ref else None
    if shop is None:
        raise UnknownAccount(f"no live TikTok Shop connection has shop {ref!r}")
    event.tenant_id = shop.tenant_id
    return shop


# --- batches --------------------------------------------------------------------------------

#: the event types whose handler fetches the order again (:func:`on_order_change`)
ORDER_REFETCH_TYPES = frozenset({"ORDER_STATUS_CHANGE", "RECIPIENT_ADDRESS_UPDATE"})


@dataclass
class _Batch:
    #: every shop id of the batch -> its live shop, or None when no tenant has it
    shops: dict[str, Shop | None]
    #: (shop pk, order id) fetched again and stored by the batch
    refreshed: set[tuple[int, str]] = field(default_factory=set)


_batch: ContextVar[_Batch | None] = ContextVar("tiktok_shop_webhook_batch", default=None)


@contextmanager
def prepare_batch(events: list[WebhookEvent]) -> Iterator[None]:
    """Route the batch's events in one query and fetch its orders 50 a call (see the module)."""
    refs = {event.account_ref for event in events if event.account_ref}
    shops: dict[str, Shop | None] = dict.fromkeys(refs)
    for shop in _live_shops(refs):
        if shops[shop.shop_id] is None:
            shops[shop.shop_id] = shop
    batch = _Batch(shops=shops)
    _refresh_orders(batch, events)
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)


def _refresh_orders(batch: _Batch, events: list[WebhookEvent]) -> None:
    """Fetch again, 50 a call, the orders of shops that two or more order pushes name.

    A single order is left to its handler (the same one call), and so are the
    orders of a shop the batch deauthorizes. A failed call is logged and the
    shop's remaining orders are left to their handlers too.
    """
    from .client import ORDERS_GET_MAX_IDS
    from .services import orders_refresh

    # A shop deauthorized in this batch is left to the handlers, which run in order:
    # the pushes after the deauthorization must find it gone, not fetched for.
    leaving = {e.account_ref for e in events if e.event_type == "SELLER_DEAUTHORIZATION"}
    wanted: dict[str, list[str]] = {}
    for event in events:
        if event.account_ref in leaving:
            continue
        order_id = str(event_data(event).get("order_id") or "")
        if (
            event.event_type in ORDER_REFETCH_TYPES
            and order_id
            and batch.shops.get(event.account_ref)
        ):
            ids = wanted.setdefault(event.account_ref, [])
            if order_id not in ids:
                ids.append(order_id)
    for ref, order_ids in wanted.items():
        if len(order_ids) < 2:
            continue
        shop = batch.shops[ref]
        for start in range(0, len(order_ids), ORDERS_GET_MAX_IDS):
            try:
                returned = orders_refresh(
                    shop=shop, order_ids=order_ids[start : start + ORDERS_GET_MAX_IDS]
                )
            except Exception:
                logger.warning(
                    "tiktok_shop: fetching %d orders of shop %s together failed; "
                    "their events fetch them one by one",
                    len(order_ids) - start,
                    ref,
                    exc_info=True,
                )
                break
            batch.refreshed.update((shop.pk, order_id) for order_id in returned)


def _forget_connection(connection_id: int) -> None:
    """After a disconnection, the batch's later events of its shops are routed afresh."""
    batch = _batch.get()
    if batch is None:
        return
    for ref, shop in list(batch.shops.items()):
        if shop is not None and shop.connection_id == connection_id:
            del batch.shops[ref]


def event_data(event: WebhookEvent) -> dict[str, Any]:
    """The push's ``data`` object ({} when it is missing or not an object)."""
    data = (event.payload or {}).get("data")
    return data if isinstance(data, dict) else {}


# --- handlers -------------------------------------------------------------------------------


def on_order_change(event: WebhookEvent) -> None:
    """Refetch the order the push names (one API call) and upsert it."""
    from .services import order_refresh

    shop = shop_for_event(event)
    order_id = str(event_data(event).get("order_id") or "")
    if not order_id:
        logger.warning("tiktok_shop webhook %s has no order_id: nothing to refetch", event.pk)
        return
    batch = _batch.get()
    if batch is not None and (shop.pk, order_id) in batch.refreshed:
        return  # fetched again with the rest of its batch
    order_refresh(shop=shop, order_id=order_id)


def _reverse_event(event: WebhookEvent, kind: str) -> None:
    from .services import order_reverse_event_record

    shop = shop_for_event(event)
    data = event_data(event)
    changed_at = unix_time(data.get("update_time") or data.get("create_time")) or event.occurred_at
    order_reverse_event_record(shop=shop, kind=kind, data=data, changed_at=changed_at)


def on_return_change(event: WebhookEvent) -> None:
    """Noted on the order's history, then the return itself is fetched again (type 12)."""
    from .returns import on_return_webhook

    _reverse_event(event, OrderStatusChange.Kind.RETURN)
    if event.event_type == "RETURN_STATUS_CHANGE":
        on_return_webhook(shop=shop_for_event(event), data=event_data(event))


def on_package_update(event: WebhookEvent) -> None:
    """Type 4: the orders the push names are fetched again, with their packages."""
    from .fulfillment import on_package_webhook

    on_package_webhook(shop=shop_for_event(event), data=event_data(event))


def on_cancellation_change(event: WebhookEvent) -> None:
    _reverse_event(event, OrderStatusChange.Kind.CANCELLATION)


def on_seller_deauthorization(event: WebhookEvent) -> None:
    from .services import connection_deauthorized

    connection = shop_for_event(event).connection
    connection_deauthorized(connection=connection)
    _forget_connection(connection.pk)


def on_authorization_expiring(event: WebhookEvent) -> None:
    """``data.expiration_time`` is a string of Unix seconds."""
    from .services import connection_authorization_expiring

    shop = shop_for_event(event)
    expires_at = unix_time(event_data(event).get("expiration_time"))
    connection_authorization_expiring(connection=shop.connection, expires_at=expires_at)
