"""TikTok Shop operations: fulfillment, logistics, returns, customer service, finance.

Contract tiktok-shop.md §3.3-3.6. Every endpoint goes through ``signed_endpoint``
(signature, timestamp, token, ``shop_cipher`` required, scope), then answers
from :mod:`apps.sandbox.shop_ops_data` with ``SandboxShopRecord`` rows laid over
the generated data. All answers are ``{code, message, request_id, data}`` in
HTTP 200.

Error codes (sandbox choices where the contract names none):

- 36009004 "Invalid params: ..." for a bad ``page_size``, ``page_token``,
  sort, filter or body on fulfillment, logistics, customer service and finance
  (as the orders search does); the returns endpoints use the contract's
  25001001 (invalid param) instead.
- 25001003 (the contract's "invalid order status") when the object is not in
  a state that allows the call: shipping a package twice or one not awaiting
  shipment, deciding a return that is no longer pending.
- 25020005 (the contract's "no permission for this order") for an id that
  is not one of this shop's packages, orders, returns, conversations or
  statements, as another seller's id would be.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any

import requests
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .. import generator, shop_data
from .. import shop_ops_data as ops
from ..envelopes import tiktok
from ..models import SandboxGrant, SandboxShopRecord
from .tiktok_shop import _shop_for_cipher, _unknown_cipher, signed_endpoint
from .tiktok_shop_products import _shop as catalog_shop

Kind = SandboxShopRecord.Kind

FULFILLMENT_SCOPE = "seller.fulfillment.basic"
LOGISTICS_SCOPE = "seller.logistics"
RETURNS_SCOPE = "seller.return_refund.basic"
CS_SCOPE = "seller.customer_service"
FINANCE_SCOPE = "seller.finance.info"

INVALID_PARAMS = 36009004
RETURN_INVALID_PARAM = 25001001
INVALID_STATUS = 25001003
NO_PERMISSION = 25020005

PACKAGES_PAGE = (1, 50)
RETURNS_PAGE = (10, 50)
CONVERSATIONS_PAGE = (1, 20)
MESSAGES_PAGE = (1, 10)
FINANCE_PAGE = (1, 100)
MESSAGE_TYPES = ("TEXT", "IMAGE", "PRODUCT_CARD", "ORDER_CARD", "RETURN_REFUND_CARD", "COUPON_CARD")
MAX_TEXT = 2000
LOCK_SECONDS = 30
DOCUMENT_TYPES = ("SHIPPING_LABEL", "PACKING_SLIP", "SHIPPING_LABEL_AND_PACKING_SLIP")


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(message: str, code: int = INVALID_PARAMS) -> ApiError:
    return ApiError(code, f"Invalid params: {message}.")


def _not_found(what: str) -> ApiError:
    return ApiError(NO_PERMISSION, f"No permission: the {what} does not belong to this shop.")


@dataclass(frozen=True)
class Call:
    """What every shop-scoped operation needs: who, which shop, its orders, the clock."""

    request: HttpRequest
    grant: SandboxGrant
    shop: dict
    orders: shop_data.ShopOrders
    now: int
    kwargs: dict[str, str]

    @property
    def shop_id(self) -> str:
        return self.shop["id"]


ShopView = Callable[[Call], dict]


def shop_operation(
    *, scope: str, methods: tuple[str, ...] = ("GET",)
) -> Callable[[ShopView], Callable[..., HttpResponse]]:
    """A signed, shop-scoped endpoint whose view returns ``data`` or raises :class:`ApiError`.

    ``signed_endpoint`` views take the request only; URL parameters are read
    from ``request.resolver_match`` (as ``tiktok_shop_products._by_path`` does).
    """

    def decorate(view: ShopView) -> Callable[..., HttpResponse]:
        @signed_endpoint(scope=scope, shop_scoped=True, methods=methods)
        def signed(request: HttpRequest, grant: SandboxGrant) -> HttpResponse:
            shop = _shop_for_cipher(request, grant)
            if shop is None:
                return _unknown_cipher()
            call = Call(
                request=request,
                grant=grant,
                shop=shop,
                orders=shop_data.orders_for(shop, grant.account_id),
                now=shop_data.now_seconds(),
                kwargs=dict(request.resolver_match.kwargs) if request.resolver_match else {},
            )
            try:
                return tiktok(0, "Success", view(call))
            except ApiError as exc:
                return tiktok(exc.code, exc.message)

        @csrf_exempt
        @wraps(view)
        def outer(request: HttpRequest, **kwargs: str) -> HttpResponse:
            return signed(request)

        return outer

    return decorate


@contextmanager
def _one_at_a_time(kind: str, shop_id: str, object_id: str) -> Iterator[None]:
    """Serialise writes on one object across processes (the default cache is shared).

    A second call while the first is in flight answers 36009003 (internal
    error, retry), so a retried ship or decision can never be applied twice.
    """
    key = f"sandbox:tiktok_shop:op:{kind}:{shop_id}:{object_id}"
    if not cache.add(key, 1, timeout=LOCK_SECONDS):
        raise ApiError(36009003, "Internal error. Please try again later.")
    try:
        yield
    finally:
        cache.delete(key)


# --- parameters ---------------------------------------------------------------------------------


def _body(call: Call, code: int = INVALID_PARAMS) -> dict:
    if call.request.method == "GET":
        return {}
    try:
        body = json.loads(call.request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise _invalid("the body is not valid JSON", code) from None
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object", code)
    return body


def _page_size(call: Call, limits: tuple[int, int], code: int = INVALID_PARAMS) -> int:
    raw = call.request.GET.get("page_size", "")
    low, high = limits
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _invalid(f"page_size must be between {low} and {high}", code)
    return int(raw)


def _sort(
    call: Call,
    fields: tuple[str, ...],
    default_order: str,
    code: int = INVALID_PARAMS,
    *,
    required: bool = False,
) -> tuple[str, bool]:
    """(sort field, descending?) from ``sort_field``/``sort_order``; the first field is the default."""
    raw_field = call.request.GET.get("sort_field", "")
    if required and not raw_field:
        raise _invalid(f"sort_field is required ({'|'.join(fields)})", code)
    field = raw_field or fields[0]
    order = (call.request.GET.get("sort_order") or default_order).upper()
    if field not in fields or order not in {"ASC", "DESC"}:
        raise _invalid("sort_field or sort_order is invalid", code)
    return field, order == "DESC"


def _token(call: Call, code: int = INVALID_PARAMS) -> tuple[tuple | None, int]:
    try:
        return ops.read_token(call.request.GET.get("page_token", ""), call.now)
    except ops.BadPageToken:
        raise _invalid("page_token is invalid", code) from None


def _int(value: Any, name: str, code: int = INVALID_PARAMS) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
        raise _invalid(f"{name} must be a Unix timestamp", code)
    return int(value)


def _str_list(body: dict, name: str, code: int = INVALID_PARAMS) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise _invalid(f"{name} must be a list of strings", code)
    return [str(v) for v in value]


def _in_window(value: int, source: Any, name: str, code: int) -> bool:
    """``[name_ge, name_lt)`` from ``source`` (a body dict or the query); absent bounds are open."""
    low = _int(source.get(f"{name}_ge"), f"{name}_ge", code)
    high = _int(source.get(f"{name}_lt"), f"{name}_lt", code)
    if low is not None and value < low:
        return False
    return high is None or value < high


# --- fulfillment ----------------------------------------------------------------------------------


def _package_state(call: Call) -> shop_data.OrderState:
    package_id = call.kwargs.get("package_id", "")
    state = shop_data.state_of(call.orders, ops.order_id_of(package_id), call.now)
    if state is None or not ops.has_package(state):
        raise _not_found("package")
    return state


@shop_operation(scope=FULFILLMENT_SCOPE, methods=("POST",))
def packages_search(call: Call) -> dict:
    """``POST /fulfillment/202309/packages/search``: query ``page_size`` 1-50, ``page_token``,
    ``sort_field`` (create_time | update_time), ``sort_order`` (DESC default); body
    ``package_status``, ``create_time_ge/lt``, ``update_time_ge/lt``."""
    size = _page_size(call, PACKAGES_PAGE)
    field, descending = _sort(call, ("create_time", "update_time"), "DESC")
    after, bound = _token(call)
    body = _body(call)
    wanted = body.get("package_status") or ""
    if wanted and wanted not in set(ops.PACKAGE_STATUS.values()):
        raise _invalid("package_status is unknown")

    def keep(state: shop_data.OrderState) -> bool:
        if wanted and ops.package_status(state) != wanted:
            return False
        created = state.time_of("AWAITING_SHIPMENT") or 0
        return _in_window(created, body, "create_time", INVALID_PARAMS) and _in_window(
            state.update_time, body, "update_time", INVALID_PARAMS
        )

    states = [s for s in ops.packaged_states(call.orders, bound) if keep(s)]

    def key(state: shop_data.OrderState) -> tuple:
        value = state.update_time if field == "update_time" else state.time_of("AWAITING_SHIPMENT")
        return (value, state.order_id)

    page = ops.keyset_page(
        states, key, page_size=size, after=after, descending=descending, bound=bound
    )
    return {
        "packages": [ops.package_object(call.orders, s) for s in page.items],
        "next_page_token": page.next_page_token,
        "total_count": page.total_count,
    }


@shop_operation(scope=FULFILLMENT_SCOPE)
def package_get(call: Call) -> dict:
    """``GET /fulfillment/202309/packages/{package_id}``."""
    return ops.package_object(call.orders, _package_state(call))


@shop_operation(scope=FULFILLMENT_SCOPE)
def package_shipping_documents(call: Call) -> dict:
    """``GET .../packages/{id}/shipping_documents?document_type``: ``doc_url`` of a PDF label.

    Only once the package is shipped (it carries a tracking number): before, 25001003.
    """
    state = _package_state(call)
    document_type = call.request.GET.get("document_type") or "SHIPPING_LABEL"
    if document_type not in DOCUMENT_TYPES:
        raise _invalid(f"document_type must be one of {', '.join(DOCUMENT_TYPES)}")
    package = ops.package_object(call.orders, state)
    if not package["tracking_number"]:
        raise ApiError(INVALID_STATUS, "Invalid order status: the package is not shipped yet.")
    path = reverse(
        "sandbox:tiktok_shop_label",
        kwargs={"shop_id": call.shop_id, "package_id": package["id"]},
    )
    base = settings.SANDBOX_BASE_URL.rstrip("/")
    mount = reverse("sandbox:index").rstrip("/")
    return {
        "doc_url": f"{base}{path[len(mount) :]}?document_type={document_type}",
        "tracking_number": package["tracking_number"],
    }


def _ship(
    call: Call, state: shop_data.OrderState, *, tracking: str, provider_id: str, handover: str
) -> dict:
    """Store the shipment (one record per package) if the order still awaits shipment."""
    package_id = ops.package_id_of(state.order_id)
    if handover:
        tracking = f"TT{state.order_id[-10:]}{call.shop['region']}"
        provider_id = ops.SHIPPING_PROVIDERS[0][0]
    data = {
        "order_id": state.order_id,
        "package_id": package_id,
        "tracking_number": tracking,
        "shipping_provider_id": provider_id,
        "shipping_provider": ops.provider_name(provider_id),
        "self_shipment": not handover,
        "handover_method": handover,
        "ship_time": call.now,
    }
    with _one_at_a_time("ship", call.shop_id, package_id), transaction.atomic():
        already = SandboxShopRecord.objects.filter(
            kind=Kind.PACKAGE_SHIPPED, shop_id=call.shop_id, object_id=package_id
        ).exists()
        if already or state.status != "AWAITING_SHIPMENT":
            raise ApiError(
                INVALID_STATUS,
                f"Invalid order status: the package is {ops.package_status(state)}, "
                "not awaiting shipment.",
            )
        SandboxShopRecord.objects.create(
            kind=Kind.PACKAGE_SHIPPED, shop_id=call.shop_id, object_id=package_id, data=data
        )
        if ops.auto_push_enabled():
            event = ops.package_update_event(call.shop_id, package_id, state.order_id, at=call.now)
            ops.push_later(event)
    return data


def _self_shipment(tracking: Any, provider_id: Any) -> tuple[str, str]:
    if not isinstance(tracking, str) or not tracking.strip():
        raise _invalid("tracking_number is required")
    if len(tracking) > ops.MAX_TRACKING_NUMBER or not tracking.replace("-", "").isalnum():
        raise _invalid("tracking_number must be 1-50 letters, digits or dashes")
    if ops.provider_name(str(provider_id or "")) is None:
        raise _invalid("shipping_provider_id is unknown")
    return tracking.strip(), str(provider_id)


@shop_operation(scope=FULFILLMENT_SCOPE, methods=("POST",))
def package_ship(call: Call) -> dict:
    """``POST .../packages/{id}/ship``: ``self_shipment{tracking_number, shipping_provider_id}``
    or ``handover_method`` (PICKUP | DROP_OFF, the platform's own shipping); answers ``{}``."""
    state = _package_state(call)
    body = _body(call)
    shipment = body.get("self_shipment")
    handover = body.get("handover_method") or ""
    if shipment and handover:
        raise _invalid("send either self_shipment or handover_method")
    if shipment:
        if not isinstance(shipment, dict):
            raise _invalid("self_shipment must be an object")
        tracking, provider_id = _self_shipment(
            shipment.get("tracking_number"), shipment.get("shipping_provider_id")
        )
        _ship(call, state, tracking=tracking, provider_id=provider_id, handover="")
    elif handover in ops.HANDOVER_METHODS:
        _ship(call, state, tracking="", provider_id="", handover=handover)
    else:
        raise _invalid("self_shipment or handover_method (PICKUP | DROP_OFF) is required")
    return {}


@shop_operation(scope=FULFILLMENT_SCOPE, methods=("POST",))
def order_mark_shipped(call: Call) -> dict:
    """``POST /fulfillment/202309/orders/{order_id}/packages``: body ``order_line_item_ids[]``,
    ``tracking_number``, ``shipping_provider_id`` → ``package_id``.

    Sandbox orders hold one package for all their line items, so the ids must
    be the order's (all of them when omitted); that package is the one shipped.
    """
    state = shop_data.state_of(call.orders, call.kwargs.get("order_id", ""), call.now)
    if state is None:
        raise _not_found("order")
    body = _body(call)
    line_ids = _str_list(body, "order_line_item_ids")
    known = {line["id"] for line in shop_data.order_object(call.orders, state)["line_items"]}
    if line_ids is not None and (not line_ids or not set(line_ids) <= known):
        raise _invalid("order_line_item_ids must be line items of the order")
    tracking, provider_id = _self_shipment(
        body.get("tracking_number"), body.get("shipping_provider_id")
    )
    data = _ship(call, state, tracking=tracking, provider_id=provider_id, handover="")
    return {"package_id": data["package_id"]}


@shop_operation(scope=FULFILLMENT_SCOPE)
def order_tracking(call: Call) -> dict:
    """``GET /fulfillment/202309/orders/{order_id}/tracking`` → ``tracking[]`` (milliseconds)."""
    state = shop_data.state_of(call.orders, call.kwargs.get("order_id", ""), call.now)
    if state is None:
        raise _not_found("order")
    return {"tracking": ops.tracking_events(call.orders, state)}


@shop_operation(scope=LOGISTICS_SCOPE)
def delivery_options(call: Call) -> dict:
    """``GET /logistics/202309/warehouses/{warehouse_id}/delivery_options``."""
    shop = catalog_shop(call.request, call.grant)
    known = {*shop.warehouses, ops.order_warehouse_id(call.shop_id)}
    if call.kwargs.get("warehouse_id") not in known:
        raise _not_found("warehouse")
    return {
        "delivery_options": [
            {
                "id": option_id,
                "name": name,
                "description": description,
                "type": "STANDARD" if index == 0 else "EXPRESS",
                "platform": ["TIKTOK_SHOP"],
                "is_default": index == 0,
            }
            for index, (option_id, name, description, _providers) in enumerate(ops.DELIVERY_OPTIONS)
        ]
    }


@shop_operation(scope=LOGISTICS_SCOPE)
def shipping_providers(call: Call) -> dict:
    """``GET /logistics/202309/delivery_options/{delivery_option_id}/shipping_providers``."""
    option = next(
        (o for o in ops.DELIVERY_OPTIONS if o[0] == call.kwargs.get("delivery_option_id")), None
    )
    if option is None:
        raise _not_found("delivery option")
    return {
        "shipping_providers": [{"id": pid, "name": ops.provider_name(pid)} for pid in option[3]]
    }


# --- returns --------------------------------------------------------------------------------------


def _decisions(shop_id: str) -> dict[str, dict]:
    rows = SandboxShopRecord.objects.filter(kind=Kind.RETURN_DECIDED, shop_id=shop_id)
    return {row.object_id: row.data for row in rows}


@shop_operation(scope=RETURNS_SCOPE, methods=("POST",))
def returns_search(call: Call) -> dict:
    """``POST /return_refund/202309/returns/search``: query ``page_size`` 10-50, ``page_token``,
    ``sort_field`` (create_time | update_time), ``sort_order`` (ASC default); body
    ``return_ids``, ``order_ids``, ``buyer_user_ids``, ``return_types``, ``return_status``,
    ``create_time_ge/lt``, ``update_time_ge/lt``."""
    code = RETURN_INVALID_PARAM
    size = _page_size(call, RETURNS_PAGE, code)
    field, descending = _sort(call, ("create_time", "update_time"), "ASC", code)
    after, bound = _token(call, code)
    body = _body(call, code)
    filters = {
        name: _str_list(body, name, code)
        for name in ("return_ids", "order_ids", "buyer_user_ids", "return_types", "return_status")
    }
    buyers = set(filters["buyer_user_ids"] or ())

    def keep(state: ops.ReturnState) -> bool:
        seed = state.seed
        for name, value in (
            ("return_ids", seed.return_id),
            ("order_ids", seed.order_id),
            ("return_types", seed.return_type),
            ("return_status", state.status),
        ):
            if filters[name] is not None and value not in filters[name]:
                return False
        if buyers and ops.buyer_user_id(call.shop_id, seed.index) not in buyers:
            return False
        return _in_window(seed.create_time, body, "create_time", code) and _in_window(
            state.update_time, body, "update_time", code
        )

    states = [s for s in ops.returns_at(call.orders, _decisions(call.shop_id), bound) if keep(s)]

    def key(state: ops.ReturnState) -> tuple:
        value = state.update_time if field == "update_time" else state.seed.create_time
        return (value, state.seed.return_id)

    page = ops.keyset_page(
        states, key, page_size=size, after=after, descending=descending, bound=bound
    )
    return {
        "return_orders": [ops.return_object(call.orders, s) for s in page.items],
        "next_page_token": page.next_page_token,
        "total_count": page.total_count,
    }


@shop_operation(scope=RETURNS_SCOPE)
def reject_reasons(call: Call) -> dict:
    """``GET /return_refund/202309/reject_reasons?return_or_cancel_id`` → ``reasons[{name, text}]``."""
    wanted = call.request.GET.get("return_or_cancel_id", "")
    if wanted and _return_seed(call, wanted) is None:
        raise _not_found("return")
    return {"reasons": [{"name": name, "text": text} for name, text in ops.REJECT_REASONS]}


def _return_seed(call: Call, return_id: str) -> ops.ReturnSeed | None:
    seed = ops.return_seed_of(call.orders, return_id)
    return seed if seed is not None and seed.create_time <= call.now else None


def _decide(call: Call, action: str) -> dict:
    code = RETURN_INVALID_PARAM
    return_id = call.kwargs.get("return_id", "")
    seed = _return_seed(call, return_id)
    if seed is None:
        raise _not_found("return")
    body = _body(call, code)
    decision = body.get("decision") or ""
    key = call.request.GET.get("idempotency_key", "")
    if len(key) > 64:
        raise _invalid("idempotency_key is longer than 64 characters", code)
    allowed = ops.APPROVE_DECISIONS if action == "approve" else ops.REJECT_DECISIONS
    if decision in ops.RECEIVED_DECISIONS:
        raise ApiError(INVALID_STATUS, "Invalid order status: the buyer has not shipped the item.")
    if decision not in allowed:
        raise _invalid(f"decision must be one of {', '.join(allowed)}", code)
    data: dict[str, Any] = {"action": action, "decision": decision, "idempotency_key": key}
    if action == "reject":
        reason = body.get("reject_reason") or ""
        if reason not in {name for name, _text in ops.REJECT_REASONS}:
            raise _invalid("reject_reason must be a name from reject_reasons", code)
        data.update(reject_reason=reason, comment=str(body.get("comment") or "")[:500])
    elif decision == "OFFER_PARTIAL_REFUND":
        partial = body.get("partial_refund")
        if not isinstance(partial, dict) or not partial.get("amount"):
            raise _invalid("partial_refund{currency, amount} is required", code)
        data["partial_refund"] = {
            "currency": str(partial.get("currency", "")),
            "amount": str(partial["amount"]),
        }
    with _one_at_a_time("decide", call.shop_id, return_id), transaction.atomic():
        previous = (
            SandboxShopRecord.objects.filter(
                kind=Kind.RETURN_DECIDED, shop_id=call.shop_id, object_id=return_id
            )
            .values_list("data", flat=True)
            .first()
        )
        if previous is not None:
            if key and previous.get("idempotency_key") == key:
                return {}  # the same request again: the same answer, applied once
            raise ApiError(
                INVALID_STATUS,
                f"Invalid order status: the return is {previous['return_status']}.",
            )
        state = ops.return_state(seed, None, call.now)
        if state is None or state.status != ops.PENDING:
            raise ApiError(
                INVALID_STATUS,
                f"Invalid order status: the return is {state.status if state else 'unknown'}.",
            )
        data.update(return_status=ops.decided_status(seed.return_type, action), decided_at=call.now)
        SandboxShopRecord.objects.create(
            kind=Kind.RETURN_DECIDED, shop_id=call.shop_id, object_id=return_id, data=data
        )
        if ops.auto_push_enabled():
            decided = ops.ReturnState(seed, data["return_status"], call.now, data)
            ops.push_later(ops.return_status_event(call.shop_id, decided, pushed_at=call.now))
    return {}


@shop_operation(scope=RETURNS_SCOPE, methods=("POST",))
def return_approve(call: Call) -> dict:
    """``POST .../returns/{return_id}/approve?idempotency_key``: body ``decision``
    (APPROVE_REFUND | APPROVE_RETURN | OFFER_PARTIAL_REFUND with ``partial_refund``)."""
    return _decide(call, "approve")


@shop_operation(scope=RETURNS_SCOPE, methods=("POST",))
def return_reject(call: Call) -> dict:
    """``POST .../returns/{return_id}/reject?idempotency_key``: body ``decision``
    (REJECT_REFUND | REJECT_RETURN), ``reject_reason`` (a name from reject_reasons), ``comment``."""
    return _decide(call, "reject")


# --- customer service -------------------------------------------------------------------------------


def _records(shop_id: str) -> dict[str, list[dict]]:
    """``MESSAGE_SENT`` rows of the shop by conversation, oldest first (one query)."""
    result: dict[str, list[dict]] = {}
    rows = SandboxShopRecord.objects.filter(kind=Kind.MESSAGE_SENT, shop_id=shop_id).values_list(
        "object_id", "data"
    )
    for object_id, data in rows:
        result.setdefault(object_id, []).append(data)
    return result


def conversation_messages(
    orders: shop_data.ShopOrders, buyer: ops.Buyer, records: list[dict], at: int
) -> list[dict]:
    """Generated and recorded messages of one conversation that exist at ``at``, oldest first."""
    messages = ops.generated_messages(orders, buyer)
    messages += [
        ops.recorded_message(orders.shop_id, buyer, data)
        for data in records
        if data.get("action") == "send"
    ]
    visible = [m for m in messages if m["create_time"] <= at]
    return sorted(visible, key=lambda m: (int(m["index"]), m["id"]))


def _unread(messages: list[dict], records: list[dict]) -> int:
    """Buyer messages after the seller's last message or last read mark."""
    last_read = max(
        [int(d["index"]) for d in records if d.get("action") == "read"]
        + [int(m["index"]) for m in messages if m["sender"]["role"] == "SHOP"]
        + [0]
    )
    return sum(
        1 for m in messages if m["sender"]["role"] == "BUYER" and int(m["index"]) > last_read
    )


def conversation_object(
    orders: shop_data.ShopOrders, buyer: ops.Buyer, messages: list[dict], records: list[dict]
) -> dict:
    shop_id = orders.shop_id
    return {
        "id": buyer.conversation_id,
        "participant_count": 2,
        "can_send_message": True,
        "unread_count": _unread(messages, records),
        "create_time": messages[0]["create_time"],
        "participants": [
            {
                "im_user_id": ops.buyer_im_user_id(shop_id, buyer.user_id),
                "user_id": buyer.user_id,
                "role": "BUYER",
                "nickname": buyer.nickname,
                "avatar": "",
            },
            {
                "im_user_id": ops.shop_im_user_id(shop_id),
                "user_id": shop_id,
                "role": "SHOP",
                "nickname": "Shop",
                "avatar": "",
            },
        ],
        "latest_message": messages[-1],
    }


@shop_operation(scope=CS_SCOPE, methods=("GET", "POST"))
def conversations_root(call: Call) -> dict:
    """``GET`` lists conversations, ``POST`` opens one with a buyer (same path)."""
    return _create_conversation(call) if call.request.method == "POST" else _conversations(call)


def _conversations(call: Call) -> dict:
    """``GET /customer_service/202309/conversations?page_size≤20&page_token&locale``:
    conversations with at least one message, latest activity first."""
    size = _page_size(call, CONVERSATIONS_PAGE)
    after, bound = _token(call)
    records = _records(call.shop_id)
    rows = []
    for buyer in ops.buyers(call.orders).values():
        own = records.get(buyer.conversation_id, [])
        messages = conversation_messages(call.orders, buyer, own, bound)
        if messages:
            rows.append(conversation_object(call.orders, buyer, messages, own))

    def key(row: dict) -> tuple:
        return (int(row["latest_message"]["index"]), row["id"])

    page = ops.keyset_page(rows, key, page_size=size, after=after, descending=True, bound=bound)
    return {"conversations": page.items, "next_page_token": page.next_page_token}


def _buyer(call: Call) -> ops.Buyer:
    buyer = ops.buyers(call.orders).get(call.kwargs.get("conversation_id", ""))
    if buyer is None:
        raise _not_found("conversation")
    return buyer


@shop_operation(scope=CS_SCOPE, methods=("GET", "POST"))
def conversation_messages_view(call: Call) -> dict:
    """``GET`` (list: ``page_size`` ≤10, ``page_token``, ``sort_field`` create_time | index,
    ``sort_order`` DESC default) and ``POST`` (send: ``type``, ``content`` JSON string →
    ``message_id``) on ``/customer_service/202309/conversations/{id}/messages``."""
    if call.request.method == "POST":
        return _send(call)
    buyer = _buyer(call)
    size = _page_size(call, MESSAGES_PAGE)
    _field, descending = _sort(call, ("create_time", "index"), "DESC")
    after, bound = _token(call)
    own = _records(call.shop_id).get(buyer.conversation_id, [])
    messages = conversation_messages(call.orders, buyer, own, bound)

    def key(message: dict) -> tuple:
        return (int(message["index"]), message["id"])

    page = ops.keyset_page(
        messages, key, page_size=size, after=after, descending=descending, bound=bound
    )
    return {"messages": page.items, "next_page_token": page.next_page_token}


def _send(call: Call) -> dict:
    buyer = _buyer(call)
    body = _body(call)
    type_ = body.get("type") or ""
    if type_ not in MESSAGE_TYPES:
        raise _invalid(f"type must be one of {', '.join(MESSAGE_TYPES)}")
    content = body.get("content")
    if not isinstance(content, str):
        raise _invalid("content must be a JSON string")
    try:
        parsed = json.loads(content)
    except ValueError:
        raise _invalid("content must be a JSON string") from None
    if not isinstance(parsed, dict):
        raise _invalid("content must hold a JSON object")
    if type_ == "TEXT":
        text = parsed.get("content")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise _invalid(f'a TEXT content needs "content" of 1 to {MAX_TEXT} characters')
    message = ops.store_message(
        shop_id=call.shop_id, buyer=buyer, role="SHOP", type_=type_, content=content, at=call.now
    )
    return {"message_id": message["id"]}


@shop_operation(scope=CS_SCOPE, methods=("POST",))
def conversation_read(call: Call) -> dict:
    """``POST .../conversations/{id}/messages/read``: every message so far is read."""
    buyer = _buyer(call)
    own = _records(call.shop_id).get(buyer.conversation_id, [])
    messages = conversation_messages(call.orders, buyer, own, call.now)
    last = int(messages[-1]["index"]) if messages else 0
    SandboxShopRecord.objects.create(
        kind=Kind.MESSAGE_SENT,
        shop_id=call.shop_id,
        object_id=buyer.conversation_id,
        data={"action": "read", "index": last, "create_time": call.now},
    )
    return {}


def _create_conversation(call: Call) -> dict:
    """``POST /customer_service/202309/conversations`` body ``buyer_user_id`` → ``conversation_id``.

    Each buyer of the shop has exactly one conversation id, so this is idempotent.
    """
    user_id = str(_body(call).get("buyer_user_id") or "")
    cid = ops.conversation_id(call.shop_id, user_id)
    if not user_id or cid not in ops.buyers(call.orders):
        raise _not_found("buyer")
    return {"conversation_id": cid}


# --- finance ------------------------------------------------------------------------------------------


@shop_operation(scope=FINANCE_SCOPE)
def statements(call: Call) -> dict:
    """``GET /finance/202309/statements``: ``sort_field=statement_time`` (required),
    ``sort_order`` (ASC default), ``statement_time_ge/lt``, ``payment_status``, ``page_size``
    1-100, ``page_token``."""
    size = _page_size(call, FINANCE_PAGE)
    _field, descending = _sort(call, ("statement_time",), "ASC", required=True)
    after, bound = _token(call)
    status = call.request.GET.get("payment_status", "")
    if status and status not in {"PAID", "FAILED", "PROCESSING"}:
        raise _invalid("payment_status must be PAID, FAILED or PROCESSING")
    rows = [
        s
        for s in ops.statements(call.orders, bound)
        if _in_window(s.statement_time, call.request.GET, "statement_time", INVALID_PARAMS)
        and (not status or s.payment_status(bound) == status)
    ]
    page = ops.keyset_page(
        rows,
        lambda s: (s.statement_time, s.id),
        page_size=size,
        after=after,
        descending=descending,
        bound=bound,
    )
    return {
        "statements": [ops.statement_object(s, bound) for s in page.items],
        "next_page_token": page.next_page_token,
        "total_count": page.total_count,
    }


@shop_operation(scope=FINANCE_SCOPE)
def payments(call: Call) -> dict:
    """``GET /finance/202309/payments``: ``sort_field=create_time`` (required), ``sort_order``
    (ASC default), ``create_time_ge/lt``, ``page_size`` 1-100, ``page_token``."""
    size = _page_size(call, FINANCE_PAGE)
    _field, descending = _sort(call, ("create_time",), "ASC", required=True)
    after, bound = _token(call)
    rows = [
        s
        for s in ops.statements(call.orders, bound)
        if _in_window(s.statement_time, call.request.GET, "create_time", INVALID_PARAMS)
    ]
    page = ops.keyset_page(
        rows,
        lambda s: (s.statement_time, s.payment_id),
        page_size=size,
        after=after,
        descending=descending,
        bound=bound,
    )
    return {
        "payments": [ops.payment_object(s, bound) for s in page.items],
        "next_page_token": page.next_page_token,
        "total_count": page.total_count,
    }


@shop_operation(scope=FINANCE_SCOPE)
def statement_transactions(call: Call) -> dict:
    """``GET /finance/202309/statements/{statement_id}/statement_transactions``: ``page_size``
    1-100, ``page_token``, ``sort_field`` (order_create_time), ``sort_order`` (ASC default).

    ``data`` also carries the statement's totals, which equal the sums of all its
    transactions (over every page) to the cent.
    """
    size = _page_size(call, FINANCE_PAGE)
    _field, descending = _sort(call, ("order_create_time",), "ASC")
    after, bound = _token(call)
    wanted = call.kwargs.get("statement_id", "")
    statement = next((s for s in ops.statements(call.orders, bound) if s.id == wanted), None)
    if statement is None:
        raise _not_found("statement")
    page = ops.keyset_page(
        list(statement.transactions),
        lambda t: (t.order_create_time, t.order_id),
        page_size=size,
        after=after,
        descending=descending,
        bound=bound,
    )
    totals = ops.statement_object(statement, bound)
    return {
        "statement_id": statement.id,
        "statement_time": statement.statement_time,
        "currency": statement.currency,
        "revenue_amount": totals["revenue_amount"],
        "fee_amount": totals["fee_amount"],
        "shipping_cost_amount": totals["shipping_cost_amount"],
        "adjustment_amount": totals["adjustment_amount"],
        "settlement_amount": totals["settlement_amount"],
        "statement_transactions": [ops.transaction_object(t) for t in page.items],
        "next_page_token": page.next_page_token,
        "total_count": page.total_count,
    }


@shop_operation(scope=FINANCE_SCOPE)
def order_statement_transactions(call: Call) -> dict:
    """``GET /finance/202309/orders/{order_id}/statement_transactions``: the order's settlement
    (an empty list until the order is settled in a statement)."""
    order_id = call.kwargs.get("order_id", "")
    if shop_data.state_of(call.orders, order_id, call.now) is None:
        raise _not_found("order")
    found = [
        (statement, row)
        for statement in ops.statements(call.orders, call.now)
        for row in statement.transactions
        if row.order_id == order_id
    ]
    rows = [ops.transaction_object(row, statement) for statement, row in found]
    data: dict[str, Any] = {"order_id": order_id, "statement_transactions": rows}
    if found:
        row = found[0][1]
        data.update(
            currency=row.currency,
            revenue_amount=ops.money(row.revenue),
            fee_amount=ops.money(row.fee),
            shipping_cost_amount=ops.money(row.shipping_cost),
            adjustment_amount=ops.money(row.adjustment),
            settlement_amount=ops.money(row.settlement),
        )
    return data


# --- the shipping label the doc_url points at ------------------------------------------------------


@require_GET
def shipping_label(request: HttpRequest, shop_id: str, package_id: str) -> HttpResponse:
    """A one-page PDF label for a shipped package (stands in for TikTok's label CDN)."""
    for who in generator.identities("tiktok_shop"):
        shop = next((s for s in generator.shops(who.account_id) if s["id"] == shop_id), None)
        if shop is None:
            continue
        orders = shop_data.orders_for(shop, who.account_id)
        state = shop_data.state_of(orders, ops.order_id_of(package_id), shop_data.now_seconds())
        if state is None or not ops.has_package(state):
            break
        package = ops.package_object(orders, state)
        if not package["tracking_number"]:
            break
        lines = [
            "TikTok Shop sandbox - shipping label",
            f"Package {package['id']}",
            f"Order {state.order_id}",
            f"Carrier {package['shipping_provider_name']}",
            f"Tracking {package['tracking_number']}",
        ]
        response = HttpResponse(label_pdf(lines), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="label-{package["id"]}.pdf"'
        return response
    return HttpResponseNotFound()


def label_pdf(lines: list[str]) -> bytes:
    """A minimal valid one-page PDF showing ``lines`` (ASCII) in Helvetica."""
    text = (
        "BT /F1 14 Tf 40 260 Td 18 TL "
        + " ".join(
            "(" + line.replace("\\", "").replace("(", "").replace(")", "") + ") '" for line in lines
        )
        + " ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 300] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text)
        + text.encode("ascii", "replace")
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# --- staff page: make a buyer write -----------------------------------------------------------------


@staff_member_required
@require_POST
def buyer_message(request: HttpRequest) -> HttpResponse:
    """The sandbox page's "Buyer sends a message" form: store the buyer's message in the
    shop's chat (the given conversation, else the one that moved last), then push it to
    the hub as a signed type 14 (NEW_MESSAGE) webhook."""
    text = (request.POST.get("text") or "").strip()[:MAX_TEXT]
    wanted_shop = (request.POST.get("shop_id") or "").strip()
    found = [
        (who.account_id, shop)
        for who in generator.identities("tiktok_shop")
        for shop in generator.shops(who.account_id)
        if wanted_shop in ("", shop["id"])
    ]
    if not text or not found:
        flash.error(request, _("Give a message text and a sandbox shop id (or none)."))
        return redirect("sandbox:index")
    account_id, shop = found[0]
    orders = shop_data.orders_for(shop, account_id)
    now = shop_data.now_seconds()
    try:
        _message, event = ops.buyer_writes(
            orders, text=text, conversation=request.POST.get("conversation_id", "").strip(), at=now
        )
    except KeyError:
        flash.error(request, _("That shop has no such conversation."))
        return redirect("sandbox:index")
    try:
        answer = ops.signed_push(event)
        outcome = _("the hub answered HTTP %(status)s") % {"status": answer.status_code}
    except requests.RequestException as exc:
        outcome = _("the hub could not be reached (%(error)s)") % {"error": type(exc).__name__}
    flash.success(
        request,
        _("The buyer wrote in conversation %(conversation)s; %(outcome)s.")
        % {"conversation": event["data"]["conversation_id"], "outcome": outcome},
    )
    return redirect("sandbox:index")
