"""Fulfillment: an order's packages, the shop's shipping providers, shipping, labels, bulk ship.

- **Providers** (:func:`providers_refresh`): ``GET /logistics/202309/warehouses``
  -> ``.../warehouses/{id}/delivery_options`` -> ``.../delivery_options/{id}/
  shipping_providers``; stored per shop, so the form and the CSV command
  resolve a provider by id or name without calling TikTok.
- **Packages** (:func:`order_packages_refresh`): the order object names its
  packages (``packages[].id``, and ``line_items[].package_id``); each is read
  with ``GET /fulfillment/202309/packages/{id}``.
- **Ship** (:func:`order_ship`): a package is shipped with ``self_shipment``
  (tracking number + provider id) or, for orders TikTok ships
  (``shipping_type`` TIKTOK), with ``handover_method`` (PICKUP | DROP_OFF). A
  seller-shipped order without any package is marked shipped with
  ``POST /fulfillment/202309/orders/{id}/packages``. The package and the order
  are fetched again from the answer, so the order's status and its history
  (source ``hub``) move at once; each attempt is an ``AuditEntry``.
- **Label**: ``GET .../packages/{id}/shipping_documents`` gives ``doc_url``.
- **Webhook** type 4 (PACKAGE_UPDATE): the orders the push names are fetched
  again (50 a call) with their packages.
- **Bulk ship** (:func:`ship_rows`, ``manage.py tiktok_shop_ship``): one row
  per order; every row gets an outcome, and a bad row never stops the others.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.http import PermissionDenied, ProviderError, RateLimited, TokenExpired
from apps.integrations.models import AuditEntry
from apps.integrations.redaction import redact_text
from apps.integrations.upsert import bulk_upsert
from apps.tenants.models import Tenant

from .client import ORDERS_GET_MAX_IDS
from .models import Order, OrderStatusChange, Package, ShippingProvider, Shop
from .orders import _text, orders_store, unix_time

logger = logging.getLogger(__name__)

PRODUCT = "tiktok_shop"
#: Orders whose packages may still be shipped.
SHIPPABLE_STATUSES = frozenset({"AWAITING_SHIPMENT", "PARTIALLY_SHIPPING"})
#: Package statuses after which a package is no longer shipped from the hub.
SHIPPED_PACKAGE_STATUSES = frozenset(
    {"FULFILLING", "SHIPPED", "IN_TRANSIT", "DELIVERED", "COMPLETED", "CANCELLED"}
)
HANDOVER_METHODS = ("PICKUP", "DROP_OFF")


class ShipFailed(Exception):
    """Nothing was shipped; the message is for people."""


def _provider_message(exc: ProviderError) -> str:
    if isinstance(exc, TokenExpired):
        return _("TikTok refused the connection's token. Reconnect TikTok Shop and try again.")
    if isinstance(exc, PermissionDenied):
        return _(
            "TikTok refused: the connection lacks the Fulfillment pack (reconnect with it). "
            "TikTok said: %(error)s"
        ) % {"error": exc}
    if isinstance(exc, RateLimited):
        return _("TikTok is limiting requests right now. Try again in a minute.")
    return _("TikTok refused: %(error)s") % {"error": exc}


def _client(shop: Shop):
    from .services import client_for

    return client_for(shop.connection)


# --- providers ------------------------------------------------------------------------------


def providers_refresh(*, shop: Shop) -> list[ShippingProvider]:
    """Warehouses -> delivery options -> shipping providers of one shop, stored (bulk upsert).

    Calls: one for the warehouses, one per warehouse, one per delivery option.
    """
    now = timezone.now()
    rows: dict[str, dict] = {}
    with _client(shop) as client:
        for warehouse in client.warehouses(shop_cipher=shop.cipher):
            warehouse_id = _text(warehouse.get("id"))
            if not warehouse_id or warehouse.get("type") == "RETURN_WAREHOUSE":
                continue
            for option in client.delivery_options(
                shop_cipher=shop.cipher, warehouse_id=warehouse_id
            ):
                option_id = _text(option.get("id"))
                if not option_id:
                    continue
                for provider in client.shipping_providers(
                    shop_cipher=shop.cipher, delivery_option_id=option_id
                ):
                    provider_id = _text(provider.get("id"), 64)
                    if not provider_id or provider_id in rows:
                        continue
                    rows[provider_id] = {
                        "tenant_id": shop.tenant_id,
                        "shop_id": shop.pk,
                        "provider_id": provider_id,
                        "name": _text(provider.get("name"), 255) or provider_id,
                        "delivery_option_id": option_id[:64],
                        "delivery_option_name": _text(option.get("name"), 255),
                        "synced_at": now,
                    }
    bulk_upsert(
        model=ShippingProvider, rows=list(rows.values()), unique_fields=("shop", "provider_id")
    )
    return list(ShippingProvider.objects.filter(shop=shop).order_by("name", "provider_id"))


def provider_resolve(providers: Iterable[ShippingProvider], value: str) -> ShippingProvider | None:
    """A provider by id, else by name (case-insensitive); None when unknown or ambiguous."""
    value = (value or "").strip()
    if not value:
        return None
    providers = list(providers)
    by_id = [p for p in providers if p.provider_id == value]
    if by_id:
        return by_id[0]
    by_name = [p for p in providers if p.name.casefold() == value.casefold()]
    return by_name[0] if len(by_name) == 1 else None


# --- packages -------------------------------------------------------------------------------


def _package_row(*, shop: Shop, data: Mapping[str, Any], orders: dict[str, int]) -> dict | None:
    package_id = _text(data.get("id") or data.get("package_id"), 64).strip()
    if not package_id:
        return None
    order_ids = []
    for entry in data.get("orders") or []:
        order_ids.append(_text(entry.get("id") if isinstance(entry, Mapping) else entry))
    if not order_ids and data.get("order_id"):
        order_ids = [_text(data.get("order_id"))]
    line_items = [_text(i) for i in data.get("order_line_item_ids") or []]
    if not line_items:
        for entry in data.get("orders") or []:
            if isinstance(entry, Mapping):
                for sku in entry.get("skus") or entry.get("line_items") or []:
                    line_items.extend(_text(i) for i in (sku.get("order_line_item_ids") or []))
    return {
        "tenant_id": shop.tenant_id,
        "shop_id": shop.pk,
        "order_id": next((orders[o] for o in order_ids if o in orders), None),
        "package_id": package_id,
        "order_ids": order_ids,
        "status": _text(data.get("status") or data.get("package_status"), 32),
        "tracking_number": _text(data.get("tracking_number"), 128),
        "shipping_provider_id": _text(data.get("shipping_provider_id"), 64),
        "shipping_provider_name": _text(data.get("shipping_provider_name"), 255),
        "order_line_item_ids": line_items,
        "update_time": unix_time(data.get("update_time")),
        "synced_at": timezone.now(),
    }


def packages_store(*, shop: Shop, packages: list[Mapping[str, Any]]) -> None:
    """Upsert package objects of one shop, linked to the orders stored (one read, one upsert)."""
    named = {
        _text(e.get("id") if isinstance(e, Mapping) else e)
        for p in packages
        for e in (p.get("orders") or [])
    } | {_text(p.get("order_id")) for p in packages if p.get("order_id")}
    orders = dict(Order.objects.filter(shop=shop, order_id__in=named).values_list("order_id", "pk"))
    rows = [r for r in (_package_row(shop=shop, data=p, orders=orders) for p in packages) if r]
    # label_url is ours: never overwritten by a package read.
    bulk_upsert(model=Package, rows=rows, unique_fields=("shop", "package_id"))


def _package_ids(order: Mapping[str, Any]) -> list[str]:
    ids = [_text(p.get("id")) for p in order.get("packages") or [] if p.get("id")]
    ids += [
        _text(i.get("package_id")) for i in order.get("line_items") or [] if i.get("package_id")
    ]
    return list(dict.fromkeys(i for i in ids if i))


def orders_packages_refresh(
    *, shop: Shop, order_ids: list[str], source: str = OrderStatusChange.Source.WEBHOOK
) -> None:
    """Fetch orders again (50 a call) with each of their packages, and store them all."""
    connection = shop.connection
    with _client(shop) as client:
        packages = []
        for start in range(0, len(order_ids), ORDERS_GET_MAX_IDS):
            chunk = order_ids[start : start + ORDERS_GET_MAX_IDS]
            found = client.orders_get(shop_cipher=shop.cipher, order_ids=chunk)
            if not found:
                continue
            package_ids = [pid for order in found for pid in _package_ids(order)]
            orders_store(connection=connection, shop=shop, items=found, source=source)
            for package_id in dict.fromkeys(package_ids):
                packages.append(client.package_get(shop_cipher=shop.cipher, package_id=package_id))
    packages_store(shop=shop, packages=[p for p in packages if p])


def order_packages_refresh(*, order: Order, source: str = OrderStatusChange.Source.SYNC) -> Order:
    """One order and its packages, fetched again; returns the order as stored now."""
    orders_packages_refresh(shop=order.shop, order_ids=[order.order_id], source=source)
    return Order.objects.select_related("shop", "shop__connection").get(pk=order.pk)


def on_package_webhook(*, shop: Shop, data: Mapping[str, Any]) -> None:
    """Type 4: ``package_list[{package_id, order_id_list[]}]``: refetch the orders named."""
    order_ids: list[str] = []
    for entry in data.get("package_list") or []:
        if isinstance(entry, Mapping):
            order_ids.extend(_text(o) for o in entry.get("order_id_list") or [] if o)
    order_ids = list(dict.fromkeys(order_ids))
    if not order_ids:
        logger.warning("tiktok_shop package webhook names no order: nothing to refetch")
        return
    orders_packages_refresh(shop=shop, order_ids=order_ids)


# --- ship -----------------------------------------------------------------------------------


def _audit(
    *, user: AbstractBaseUser | None, order: Order, after: dict, error: Exception | None = None
) -> None:
    AuditEntry.objects.create(
        tenant_id=order.tenant_id,
        user=user if user is not None and user.is_authenticated else None,
        product=PRODUCT,
        action="ship",
        object_type="order",
        object_id=order.order_id,
        before={"status": order.status},
        after=after,
        outcome=AuditEntry.Outcome.FAILED if error else AuditEntry.Outcome.SUCCEEDED,
        error=redact_text(str(error)) if error else "",
    )


def _line_item_ids(order: Order) -> list[str]:
    return [i for line in order.lines.all() for i in (line.line_item_ids or []) if i]


def order_ship(
    *,
    user: AbstractBaseUser | None,
    order: Order,
    package: Package | None = None,
    tracking_number: str = "",
    provider_id: str = "",
    handover_method: str = "",
) -> Order:
    """Ship an order's package (or the order, when it has none), then fetch both again.

    ``tracking_number`` + ``provider_id`` ship it the seller's way
    (``self_shipment``); ``handover_method`` hands it to TikTok's carrier,
    only for orders TikTok ships. Raises :class:`ShipFailed`.
    """
    tracking_number = (tracking_number or "").strip()
    if order.status not in SHIPPABLE_STATUSES:
        raise ShipFailed(
            _("Order %(id)s is %(status)s: there is nothing to ship.")
            % {"id": order.order_id, "status": order.status_label}
        )
    if handover_method:
        if handover_method not in HANDOVER_METHODS:
            raise ShipFailed(_("Choose pick-up or drop-off."))
        if order.shipping_type != "TIKTOK":
            raise ShipFailed(_("This order is shipped by the seller: enter a tracking number."))
    elif not tracking_number or not provider_id:
        raise ShipFailed(_("Enter a tracking number and choose a shipping provider."))
    if package is not None and package.status in SHIPPED_PACKAGE_STATUSES:
        raise ShipFailed(_("Package %(id)s is already shipped.") % {"id": package.package_id})
    shop = order.shop
    after: dict[str, Any] = {
        "package_id": package.package_id if package else "",
        "tracking_number": tracking_number,
        "shipping_provider_id": provider_id,
        "handover_method": handover_method,
    }
    try:
        with _client(shop) as client:
            if package is not None:
                client.package_ship(
                    shop_cipher=shop.cipher,
                    package_id=package.package_id,
                    tracking_number=tracking_number,
                    shipping_provider_id=provider_id,
                    handover_method=handover_method,
                )
            elif handover_method:
                raise ShipFailed(_("TikTok has not made a package for this order yet."))
            else:
                answer = client.order_mark_shipped(
                    shop_cipher=shop.cipher,
                    order_id=order.order_id,
                    order_line_item_ids=_line_item_ids(order),
                    tracking_number=tracking_number,
                    shipping_provider_id=provider_id,
                )
                after["package_id"] = _text(answer.get("package_id"))
    except ProviderError as exc:
        _audit(user=user, order=order, after=after, error=exc)
        raise ShipFailed(_provider_message(exc)) from exc
    _audit(user=user, order=order, after=after)
    try:
        return order_packages_refresh(order=order, source=OrderStatusChange.Source.HUB)
    except ProviderError as exc:  # shipped; the webhook or the next sync brings the status
        logger.warning(
            "tiktok_shop order %s refetch after ship failed code=%s", order.order_id, exc.code
        )
        return order


def package_label(*, package: Package) -> str:
    """The package's shipping label link (one call); kept on the package."""
    shop = package.shop
    with _client(shop) as client:
        data = client.shipping_document(shop_cipher=shop.cipher, package_id=package.package_id)
    url = _text(data.get("doc_url"))
    if url:
        Package.objects.filter(pk=package.pk).update(label_url=url[:2000])
        package.label_url = url
    return url


# --- bulk ship from a CSV file ---------------------------------------------------------------


@dataclass(frozen=True)
class ShipOutcome:
    line: int
    order_id: str
    outcome: str  # shipped | would ship | skipped | error
    reason: str = ""


SHIPPED, WOULD_SHIP, SKIPPED, ERROR = "shipped", "would ship", "skipped", "error"
CSV_COLUMNS = ("order_id", "tracking_number", "provider")


def _first_open_package(packages: list[Package]) -> Package | None:
    return next((p for p in packages if p.status not in SHIPPED_PACKAGE_STATUSES), None)


def ship_rows(
    *,
    tenant: Tenant,
    rows: list[dict[str, str]],
    dry_run: bool = False,
    user: AbstractBaseUser | None = None,
    progress: Callable[[ShipOutcome], None] | None = None,
) -> list[ShipOutcome]:
    """Ship each CSV row (``order_id``, ``tracking_number``, ``provider`` name or id).

    The tenant's orders, packages and providers named by the file are read in
    three queries up front. A dry run calls nothing and writes nothing: it
    says which rows would ship. Otherwise a shop's providers are fetched from
    TikTok once if none are stored. Every row gets an outcome.
    """
    wanted = {(r.get("order_id") or "").strip() for r in rows} - {""}
    orders: dict[str, list[Order]] = {}
    for order in (
        Order.objects.for_tenant(tenant)
        .filter(order_id__in=wanted)
        .select_related("shop", "shop__connection")
        .prefetch_related("lines")
    ):
        orders.setdefault(order.order_id, []).append(order)
    packages: dict[int, list[Package]] = {}
    for package in Package.objects.filter(order__in=[o for os in orders.values() for o in os]):
        packages.setdefault(package.order_id, []).append(package)
    providers: dict[int, list[ShippingProvider]] = {}
    for provider in ShippingProvider.objects.for_tenant(tenant):
        providers.setdefault(provider.shop_id, []).append(provider)

    outcomes: list[ShipOutcome] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        outcome = _ship_row(
            number=number,
            row=row,
            orders=orders,
            packages=packages,
            providers=providers,
            seen=seen,
            dry_run=dry_run,
            user=user,
        )
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return outcomes


def _ship_row(
    *,
    number: int,
    row: dict[str, str],
    orders: dict[str, list[Order]],
    packages: dict[int, list[Package]],
    providers: dict[int, list[ShippingProvider]],
    seen: set[str],
    dry_run: bool,
    user: AbstractBaseUser | None,
) -> ShipOutcome:
    order_id = (row.get("order_id") or "").strip()
    tracking = (row.get("tracking_number") or "").strip()
    provider_value = (row.get("provider") or "").strip()
    if not order_id:
        return ShipOutcome(number, "", ERROR, _("no order_id"))
    if order_id in seen:
        return ShipOutcome(number, order_id, SKIPPED, _("order already shipped from this file"))
    found = orders.get(order_id) or []
    if not found:
        return ShipOutcome(number, order_id, ERROR, _("no such order in this tenant"))
    if len(found) > 1:
        return ShipOutcome(number, order_id, ERROR, _("the order id is in several shops"))
    order = found[0]
    if order.status not in SHIPPABLE_STATUSES:
        return ShipOutcome(
            number, order_id, SKIPPED, _("order is %(status)s") % {"status": order.status}
        )
    if not tracking:
        return ShipOutcome(number, order_id, ERROR, _("no tracking_number"))
    if not provider_value:
        return ShipOutcome(number, order_id, ERROR, _("no provider"))
    shop_providers = providers.get(order.shop_id)
    if not shop_providers and not dry_run:
        try:
            shop_providers = providers[order.shop_id] = providers_refresh(shop=order.shop)
        except ProviderError as exc:
            return ShipOutcome(number, order_id, ERROR, _provider_message(exc))
    provider = provider_resolve(shop_providers or [], provider_value)
    if provider is None:
        if dry_run and not shop_providers:
            seen.add(order_id)
            return ShipOutcome(
                number, order_id, WOULD_SHIP, _("provider checked when shipping (none stored yet)")
            )
        return ShipOutcome(
            number, order_id, ERROR, _("unknown provider %(p)s") % {"p": provider_value}
        )
    order_packages = packages.get(order.pk) or []
    package = _first_open_package(order_packages)
    if order_packages and package is None:
        return ShipOutcome(number, order_id, SKIPPED, _("every package is already shipped"))
    if dry_run:
        seen.add(order_id)
        return ShipOutcome(number, order_id, WOULD_SHIP, provider.name)
    if package is None:
        # No package stored: ask TikTok for the order's packages before shipping.
        try:
            order = order_packages_refresh(order=order)
        except ProviderError as exc:
            return ShipOutcome(number, order_id, ERROR, _provider_message(exc))
        package = _first_open_package(list(Package.objects.filter(order=order)))
    try:
        order_ship(
            user=user,
            order=order,
            package=package,
            tracking_number=tracking,
            provider_id=provider.provider_id,
        )
    except ShipFailed as exc:
        return ShipOutcome(number, order_id, ERROR, str(exc))
    seen.add(order_id)
    return ShipOutcome(number, order_id, SHIPPED, f"{provider.name} {tracking}")


def read_ship_file(handle: Iterable[str]) -> list[dict[str, str]]:
    """Rows of a CSV with the header ``order_id,tracking_number,provider`` (any order, extra
    columns ignored). Raises ``ValueError`` when a column is missing."""
    reader = csv.DictReader(handle)
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            _("The file lacks the column(s) %(columns)s; expected %(expected)s.")
            % {"columns": ", ".join(missing), "expected": ",".join(CSV_COLUMNS)}
        )
    reader.fieldnames = header
    return [{k: (v or "") for k, v in row.items() if k} for row in reader]
