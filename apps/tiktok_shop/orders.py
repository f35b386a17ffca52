"""Orders: TikTok's order objects -> our rows, written with their lines and status history.

One write path serves the sync (:mod:`.sync`, a page of up to 100 orders), the
webhook refetch (one order) and the benchmark:

1. :func:`order_rows` parses a page into :class:`OrderRow` dicts (the
   ``Order`` columns) carrying their grouped line items on the side;
2. the rows are upserted on ``(shop, order_id)`` (by the sync runner, or by
   :func:`orders_write`);
3. :func:`orders_after_upsert`, in the same transaction: one query reads back
   the orders' ids and the last status recorded in their history, one reads
   their stored lines; new or changed lines are upserted on ``(order,
   sku_id)``, lines no longer in an order are deleted, and a history row is
   inserted for each order whose status differs from the last one recorded.
   A fixed number of statements per page, none per order.

Last writer wins on the order row: a page fetched just before a webhook
refetch and committed just after it can put back the older status until the
next incremental run (whose overlap covers it). The history only moves
forward: a status older than the last one recorded is not written to it.

Buyer PII (recipient name, phone, address, buyer message) goes to its columns
and nowhere else: skip reasons and log lines carry order ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from apps.integrations.sync import Rows, Skip, SkipItem
from apps.integrations.upsert import UpsertResult, bulk_upsert

from .models import Order, OrderLine, OrderStatusChange, Shop

logger = logging.getLogger(__name__)

#: The key ``fetch_page`` stamps on each order object: the pk of the shop it came from
#: (TikTok's order objects do not say).
SHOP_KEY = "__shop_pk"
ORDER_UNIQUE = ("shop", "order_id")
LINE_UNIQUE = ("order", "sku_id")
CENT = Decimal("0.01")
ID_MAX_LENGTH = 64
#: TikTok's webhook says CANCEL where the API says CANCELLED (contract §3.5).
STATUS_ALIASES = {"CANCEL": "CANCELLED"}


class OrderRow(dict):
    """The ``Order`` columns of one order, plus its grouped lines in :attr:`lines`.

    A dict, because the upsert takes dicts of columns; the lines ride along as
    an attribute (not a key) so the upsert ignores them and
    :func:`orders_after_upsert` finds them on the same objects.
    """

    lines: list[dict]


# --- parsing -----------------------------------------------------------------------------


def _id(value: Any, name: str) -> str:
    text = "" if value is None or isinstance(value, bool) else str(value).strip()
    if not text:
        raise SkipItem(f"no {name}")
    if len(text) > ID_MAX_LENGTH:
        raise SkipItem(f"{name} longer than {ID_MAX_LENGTH} characters")
    return text


def unix_time(value: Any) -> datetime | None:
    """TikTok's Unix seconds as an aware UTC datetime; 0, missing or junk (text, beyond
    the year 9999) is None."""
    try:
        seconds = int(value or 0)
        return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def unix_seconds(value: datetime | None) -> int | None:
    """A window bound as the Unix seconds TikTok's searches take."""
    return int(value.timestamp()) if value is not None else None


def _money(value: Any) -> Decimal | None:
    """Amounts arrive as strings ("12.90"); blank or junk is None."""
    if value is None or value == "":
        return None
    return _amount(str(value))


@lru_cache(maxsize=4096)
def _amount(text: str) -> Decimal | None:
    """One parse per distinct amount: an order page repeats the same prices many times
    (Decimals are immutable, so sharing them is safe)."""
    try:
        amount = Decimal(text).quantize(CENT)
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _text(value: Any, max_length: int | None = None) -> str:
    text = "" if value is None else str(value)
    return text[:max_length] if max_length else text


def order_status(value: Any) -> str:
    status = _text(value).strip().upper()
    return STATUS_ALIASES.get(status, status)


def group_lines(items: Iterable[Mapping[str, Any]]) -> list[dict]:
    """TikTok lists one line item per unit: one row per ``sku_id`` with its quantity.

    Prices are per unit (the first unit's); discounts are summed over the units.
    """
    grouped: dict[str, dict] = {}
    for item in items:
        sku_id = _text(item.get("sku_id")).strip()[:ID_MAX_LENGTH]
        if not sku_id:
            continue
        line = grouped.get(sku_id)
        seller_discount = _money(item.get("seller_discount")) or Decimal("0.00")
        platform_discount = _money(item.get("platform_discount")) or Decimal("0.00")
        if line is None:
            grouped[sku_id] = {
                "sku_id": sku_id,
                "seller_sku": _text(item.get("seller_sku"), 128),
                "product_id": _text(item.get("product_id"), ID_MAX_LENGTH),
                "product_name": _text(item.get("product_name"), 512),
                "sku_name": _text(item.get("sku_name"), 255),
                "quantity": 1,
                "currency": _text(item.get("currency"), 8),
                "sale_price": _money(item.get("sale_price")),
                "original_price": _money(item.get("original_price")),
                "seller_discount": seller_discount,
                "platform_discount": platform_discount,
                "line_item_ids": [_text(item.get("id"))],
                "package_status": _text(item.get("package_status"), 32),
            }
            continue
        line["quantity"] += 1
        line["seller_discount"] += seller_discount
        line["platform_discount"] += platform_discount
        line["line_item_ids"].append(_text(item.get("id")))
    return list(grouped.values())


def _order_row(*, tenant_id: int, item: Mapping[str, Any], synced_at: datetime) -> OrderRow:
    order_id = _id(item.get("id"), "order id")
    shop_pk = item.get(SHOP_KEY)
    if not shop_pk:
        raise SkipItem(f"order {order_id} came without its shop")
    created = unix_time(item.get("create_time"))
    if created is None:
        raise SkipItem(f"order {order_id} has no create_time")
    status = order_status(item.get("status"))
    if not status:
        raise SkipItem(f"order {order_id} has no status")
    payment = item.get("payment") or {}
    recipient = item.get("recipient_address") or {}
    line_items = item.get("line_items") or []
    row = OrderRow(
        tenant_id=tenant_id,
        shop_id=shop_pk,
        order_id=order_id,
        status=status[:32],
        create_time=created,
        update_time=unix_time(item.get("update_time")) or created,
        paid_time=unix_time(item.get("paid_time")),
        currency=_text(payment.get("currency"), 8),
        sub_total=_money(payment.get("sub_total")),
        shipping_fee=_money(payment.get("shipping_fee")),
        seller_discount=_money(payment.get("seller_discount")),
        platform_discount=_money(payment.get("platform_discount")),
        tax=_money(payment.get("tax")),
        total_amount=_money(payment.get("total_amount")),
        fulfillment_type=_text(item.get("fulfillment_type"), 32),
        shipping_type=_text(item.get("shipping_type"), 16),
        delivery_type=_text(item.get("delivery_type"), 32),
        shipping_provider=_text(item.get("shipping_provider"), 128),
        tracking_number=_text(item.get("tracking_number"), 128),
        is_cod=bool(item.get("is_cod")),
        is_on_hold=bool(item.get("is_on_hold_order")),
        buyer_user_id=_text(item.get("user_id"), 64),
        buyer_message=_text(item.get("buyer_message")),
        recipient_name=_text(recipient.get("name"), 255),
        recipient_phone=_text(recipient.get("phone_number"), 64),
        recipient_address=_text(recipient.get("full_address")),
        recipient_postal_code=_text(recipient.get("postal_code"), 32),
        recipient_region=_text(recipient.get("region_code"), 8),
        item_count=len(line_items),
        synced_at=synced_at,
    )
    row.lines = group_lines(line_items)
    return row


def order_rows(*, connection: Any, items: list[dict], synced_at: datetime) -> Rows:
    """The sync kind's ``to_rows``: one :class:`OrderRow` per order, refusals with why."""
    rows: list[dict] = []
    skipped: list[Skip] = []
    for item in items:
        try:
            rows.append(_order_row(tenant_id=connection.tenant_id, item=item, synced_at=synced_at))
        except SkipItem as exc:
            skipped.append(Skip(item=_text(item.get("id")) or "?", reason=str(exc)))
    return Rows(rows=rows, skipped=skipped)


# --- writing -------------------------------------------------------------------------------


#: The columns of a line that come from TikTok (compared to skip unchanged lines).
LINE_FIELDS = (
    "sku_id",
    "seller_sku",
    "product_id",
    "product_name",
    "sku_name",
    "quantity",
    "currency",
    "sale_price",
    "original_price",
    "seller_discount",
    "platform_discount",
    "line_item_ids",
    "package_status",
)


def _stored_orders(rows: list[dict]) -> dict[tuple, tuple]:
    """``{(shop pk, order id): (order pk, last recorded status, its time)}``: one query.

    Keyed on the shop alone (the rows' shops are the tenant's own), so the
    ``(shop, order_id)`` unique index answers it whatever the planner knows.
    """
    latest = OrderStatusChange.objects.filter(
        order=OuterRef("pk"), kind=OrderStatusChange.Kind.ORDER
    ).order_by("-changed_at", "-pk")
    stored = (
        Order.objects.filter(
            shop_id__in={row["shop_id"] for row in rows},
            order_id__in={row["order_id"] for row in rows},
        )
        .order_by()
        .annotate(
            last_status=Subquery(latest.values("to_status")[:1]),
            last_changed=Subquery(latest.values("changed_at")[:1]),
        )
        .values_list("pk", "shop_id", "order_id", "last_status", "last_changed")
    )
    return {(shop, order): (pk, status, changed) for pk, shop, order, status, changed in stored}


def _stored_lines(order_pks: list[int]) -> dict[tuple[int, str], tuple[int, tuple]]:
    """``{(order pk, sku id): (line pk, its TikTok values)}``: one query."""
    if not order_pks:
        return {}
    stored = (
        OrderLine.objects.filter(order_id__in=order_pks)
        .order_by()
        .values_list("pk", "order_id", *LINE_FIELDS)
    )
    return {(row[1], row[2]): (row[0], tuple(row[2:])) for row in stored}


def orders_after_upsert(
    *,
    connection: Any,
    rows: list[dict],
    synced_at: datetime,
    source: str = OrderStatusChange.Source.SYNC,
) -> None:
    """Lines and history of orders just upserted, in the caller's transaction.

    The sync kind's ``after_upsert``. Lines are compared with what is stored
    and only new or changed ones are written (an overlapping sync re-reads
    many unchanged orders); lines no longer listed are deleted. A fixed number
    of statements (two reads, the lines' upsert, one delete, one insert; the
    last three only when there is something to write), whatever the number
    of orders.
    """
    if not rows:
        return
    tenant_id = connection.tenant_id
    found = _stored_orders(rows)
    # An order without history was just created: it has no lines to compare with.
    stored_lines = _stored_lines([pk for pk, status, _ in found.values() if status is not None])

    lines: list[dict] = []
    changes: list[dict] = []
    for row in rows:
        pk, last_status, last_changed = found[(row["shop_id"], row["order_id"])]
        for line in getattr(row, "lines", ()):
            stored = stored_lines.pop((pk, line["sku_id"]), None)
            if stored is None or stored[1] != tuple(line[name] for name in LINE_FIELDS):
                lines.append(
                    {**line, "tenant_id": tenant_id, "order_id": pk, "synced_at": synced_at}
                )
        newer = last_changed is None or row["update_time"] > last_changed
        if row["status"] != last_status and newer:
            changes.append(
                {
                    "tenant_id": tenant_id,
                    "order_id": pk,
                    "kind": OrderStatusChange.Kind.ORDER,
                    "from_status": last_status or "",
                    "to_status": row["status"],
                    "changed_at": row["update_time"],
                    "source": source,
                }
            )
    if lines:
        bulk_upsert(model=OrderLine, rows=lines, unique_fields=LINE_UNIQUE)
    if stored_lines:  # what is left was not in the answer: an item cancelled or split off
        OrderLine.objects.filter(pk__in=[pk for pk, _ in stored_lines.values()]).delete()
    if changes:
        # One upsert that never updates: a change already recorded (a replayed page or
        # webhook) is left as is. (Cheaper than bulk_create, which builds a model per row.)
        bulk_upsert(
            model=OrderStatusChange,
            rows=changes,
            unique_fields=["order", "kind", "changed_at", "to_status"],
            update_fields=[],
        )


def orders_write(
    *,
    connection: Any,
    rows: list[dict],
    synced_at: datetime,
    source: str = OrderStatusChange.Source.SYNC,
) -> UpsertResult:
    """Upsert orders with their lines and history in one transaction (refetch, bench)."""
    with transaction.atomic():
        result = bulk_upsert(model=Order, rows=rows, unique_fields=ORDER_UNIQUE)
        orders_after_upsert(connection=connection, rows=rows, synced_at=synced_at, source=source)
    return result


def orders_store(
    *,
    connection: Any,
    shop: Shop,
    items: list[dict],
    source: str = OrderStatusChange.Source.SYNC,
) -> UpsertResult:
    """Parse and write order objects of one shop (the webhook refetch, the benchmark)."""
    synced_at = timezone.now()
    for item in items:
        item[SHOP_KEY] = shop.pk
    converted = order_rows(connection=connection, items=items, synced_at=synced_at)
    for skip in converted.skipped:
        logger.warning("tiktok_shop order %s skipped: %s", skip.item, skip.reason)
    return orders_write(
        connection=connection, rows=converted.rows, synced_at=synced_at, source=source
    )
