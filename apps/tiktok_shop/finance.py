"""Finance: statements, payments and statement transactions, synced daily; the Finance totals.

Three sync kinds, each daily (:data:`FINANCE_SCHEDULE_MINUTES`), incremental
with a :data:`FINANCE_OVERLAP` of three days (a statement's payment status
moves after it is issued), cut into :data:`FINANCE_WINDOW_STEP` pieces for
backfills (``manage.py backfill tiktok_shop finance_statements --tenant T
--since DATE``, then ``finance_transactions``):

- ``finance_statements``: ``GET /finance/202309/statements`` by
  ``statement_time``, shop by shop (statements are generated daily at 00:00 UTC);
- ``finance_payments``: ``GET /finance/202309/payments`` by ``create_time``;
- ``finance_transactions``: for each stored statement whose ``statement_time``
  is in the window, ``GET /finance/202309/statements/{id}/statement_transactions``:
  the per-order revenue, platform fees, shipping, adjustments and net. It
  walks the statements the ``finance_statements`` kind stored, so it runs
  after it (the overlap catches a day it ran first).

Money is parsed from TikTok's decimal strings into ``Decimal`` quantized to
the cent and stored in ``DecimalField`` with its currency; totals are summed
in SQL, per currency (amounts in different currencies are never added).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.integrations.sync import Page, Rows, Skip, SkipItem, SyncKind, SyncWindow
from apps.tenants.models import Tenant

from .models import Shop, Statement, StatementTransaction, TikTokShopConnection
from .orders import SHOP_KEY, _money, _text, unix_seconds, unix_time

logger = logging.getLogger(__name__)

PRODUCT = "tiktok_shop"
READ_SCOPE = "seller.finance.info"
FINANCE_PAGE_SIZE = 100
FINANCE_OVERLAP = timedelta(days=3)
FINANCE_WINDOW_STEP = timedelta(days=30)
FINANCE_SCHEDULE_MINUTES = 24 * 60
STATEMENT_KEY = "__statement_pk"
CURRENCY_KEY = "__statement_currency"

#: The amounts the Finance page totals, in its column order.
AMOUNT_FIELDS = (
    "revenue_amount",
    "fee_amount",
    "shipping_cost_amount",
    "adjustment_amount",
    "settlement_amount",
)


def _granted(connection: TikTokShopConnection, kind: str) -> bool:
    from .products import scope_granted

    if scope_granted(connection, READ_SCOPE):
        return True
    logger.info(
        "tiktok_shop %s sync connection=%s skipped: %s not granted (no Finance pack)",
        kind,
        connection.pk,
        READ_SCOPE,
    )
    return False


def _total(data: Mapping[str, Any]) -> int | None:
    total = data.get("total_count")
    return int(total) if str(total or "").isdigit() else None


def _id(item: Mapping[str, Any], name: str) -> str:
    value = _text(item.get("id")).strip()
    if not value:
        raise SkipItem(f"no {name} id")
    if len(value) > 64:
        raise SkipItem(f"{name} id longer than 64 characters")
    return value


def _value(amount: Any) -> tuple[Decimal | None, str]:
    """Payments send ``{value, currency}`` objects; statements send bare strings."""
    if isinstance(amount, Mapping):
        return _money(amount.get("value", amount.get("amount"))), _text(amount.get("currency"), 8)
    return _money(amount), ""


# --- statements -----------------------------------------------------------------------------


def _fetch_finance_pages(
    *,
    connection: TikTokShopConnection,
    cursor: dict,
    window: SyncWindow,
    kind: str,
    list_key: str,
    time_field: str,
) -> Page:
    """One finance listing walked shop by shop over ``window`` (statements or payments).

    Both take ``<time_field>_ge`` / ``<time_field>_lt`` bounds and list their items
    under ``list_key``; ``kind`` names the client method and the granted pack.
    """
    from .services import client_for
    from .sync import walk_shops

    if not _granted(connection, f"finance_{kind}"):
        return Page(items=[], next_cursor=None)

    def fetch(shop: Shop, token: str) -> tuple[list[dict], str, int | None]:
        with client_for(connection) as client:
            data = getattr(client, kind)(
                shop_cipher=shop.cipher,
                page_size=FINANCE_PAGE_SIZE,
                page_token=token,
                **{
                    f"{time_field}_ge": unix_seconds(window.start),
                    f"{time_field}_lt": unix_seconds(window.end),
                },
            )
        items = [dict(item) for item in data.get(list_key) or []]
        return items, str(data.get("next_page_token") or ""), _total(data)

    return walk_shops(
        connection=connection,
        cursor=cursor,
        fetch=fetch,
        time_of=lambda item: unix_time(item.get(time_field)),
        page_size=FINANCE_PAGE_SIZE,
    )


def fetch_statements(*, connection: TikTokShopConnection, cursor: dict, window: SyncWindow) -> Page:
    return _fetch_finance_pages(
        connection=connection,
        cursor=cursor,
        window=window,
        kind="statements",
        list_key="statements",
        time_field="statement_time",
    )


def _statement_row(*, tenant_id: int, item: Mapping[str, Any], synced_at: datetime) -> dict:
    statement_id = _id(item, "statement")
    at = unix_time(item.get("statement_time"))
    if at is None:
        raise SkipItem(f"statement {statement_id} has no statement_time")
    currency = _text(item.get("currency"), 8)
    if not currency:
        raise SkipItem(f"statement {statement_id} has no currency")
    return {
        "tenant_id": tenant_id,
        "shop_id": item[SHOP_KEY],
        "statement_id": statement_id,
        "statement_time": at,
        "currency": currency,
        "revenue_amount": _money(item.get("revenue_amount")),
        "fee_amount": _money(item.get("fee_amount")),
        "shipping_cost_amount": _money(item.get("shipping_cost_amount")),
        "adjustment_amount": _money(item.get("adjustment_amount")),
        "net_sales_amount": _money(item.get("net_sales_amount")),
        "settlement_amount": _money(item.get("settlement_amount")),
        "payment_status": _text(item.get("payment_status"), 16),
        "payment_id": _text(item.get("payment_id"), 64),
        "synced_at": synced_at,
    }


def _rows(
    *, connection: Any, items: list[dict], synced_at: datetime, convert: Any, name: str
) -> Rows:
    rows, skipped = [], []
    for item in items:
        try:
            if not item.get(SHOP_KEY):
                raise SkipItem(f"{name} came without its shop")
            rows.append(convert(tenant_id=connection.tenant_id, item=item, synced_at=synced_at))
        except SkipItem as exc:
            skipped.append(Skip(item=_text(item.get("id")) or "?", reason=str(exc)))
    return Rows(rows=rows, skipped=skipped)


def statement_rows(*, connection: Any, items: list[dict], synced_at: datetime) -> Rows:
    return _rows(
        connection=connection,
        items=items,
        synced_at=synced_at,
        convert=_statement_row,
        name="statement",
    )


# --- payments -------------------------------------------------------------------------------


def fetch_payments(*, connection: TikTokShopConnection, cursor: dict, window: SyncWindow) -> Page:
    return _fetch_finance_pages(
        connection=connection,
        cursor=cursor,
        window=window,
        kind="payments",
        list_key="payments",
        time_field="create_time",
    )


def _payment_row(*, tenant_id: int, item: Mapping[str, Any], synced_at: datetime) -> dict:
    payment_id = _id(item, "payment")
    created = unix_time(item.get("create_time"))
    if created is None:
        raise SkipItem(f"payment {payment_id} has no create_time")
    amount, currency = _value(item.get("amount"))
    settlement, settlement_currency = _value(item.get("settlement_amount"))
    reserve, _reserve_currency = _value(item.get("reserve_amount"))
    try:
        rate = Decimal(str(item.get("exchange_rate"))) if item.get("exchange_rate") else None
    except ArithmeticError:
        rate = None
    return {
        "tenant_id": tenant_id,
        "shop_id": item[SHOP_KEY],
        "payment_id": payment_id,
        "create_time": created,
        "paid_time": unix_time(item.get("paid_time")),
        "status": _text(item.get("status"), 16),
        "amount": amount,
        "currency": currency,
        "settlement_amount": settlement,
        "settlement_currency": settlement_currency,
        "reserve_amount": reserve,
        "exchange_rate": rate,
        "bank_account": _text(item.get("bank_account"), 64),
        "synced_at": synced_at,
    }


def payment_rows(*, connection: Any, items: list[dict], synced_at: datetime) -> Rows:
    return _rows(
        connection=connection,
        items=items,
        synced_at=synced_at,
        convert=_payment_row,
        name="payment",
    )


# --- statement transactions -----------------------------------------------------------------


def fetch_transactions(
    *, connection: TikTokShopConnection, cursor: dict, window: SyncWindow
) -> Page:
    """One page of one stored statement's transactions; statements go in pk order.

    The cursor is ``{"statement": pk, "page_token": t}``. One query finds the
    statement to ask for, one call fetches its page.
    """
    from .services import client_for

    if not _granted(connection, "finance_transactions"):
        return Page(items=[], next_cursor=None)
    statements = Statement.objects.filter(
        shop__connection_id=connection.pk, shop__authorized=True
    ).select_related("shop")
    if window.start is not None:
        statements = statements.filter(statement_time__gte=window.start)
    if window.end is not None:
        statements = statements.filter(statement_time__lt=window.end)
    statements = statements.order_by("pk")
    start = int(cursor.get("statement") or 0)
    # This statement, and the one after it (to know whether the walk goes on): one query.
    pair = list(statements.filter(pk__gte=start)[:2])
    if not pair:
        return Page(items=[], next_cursor=None)
    statement = pair[0]
    token = str(cursor.get("page_token") or "") if statement.pk == start else ""
    with client_for(connection) as client:
        data = client.statement_transactions(
            shop_cipher=statement.shop.cipher,
            statement_id=statement.statement_id,
            page_size=FINANCE_PAGE_SIZE,
            page_token=token,
        )
    items = [dict(t) for t in data.get("statement_transactions") or data.get("transactions") or []]
    currency = _text(data.get("currency"), 8) or statement.currency
    for item in items:
        item[SHOP_KEY] = statement.shop_id
        item[STATEMENT_KEY] = statement.pk
        item[CURRENCY_KEY] = currency
    next_token = str(data.get("next_page_token") or "")
    if next_token:
        next_cursor: dict | None = {"statement": statement.pk, "page_token": next_token}
    elif len(pair) > 1:
        next_cursor = {"statement": pair[1].pk, "page_token": ""}
    else:
        next_cursor = None
    total = _total(data)
    return Page(
        items=items,
        next_cursor=next_cursor,
        high_water=statement.statement_time,
        total_pages=-(-total // FINANCE_PAGE_SIZE) if total else None,
    )


def _transaction_row(*, tenant_id: int, item: Mapping[str, Any], synced_at: datetime) -> dict:
    transaction_id = _id(item, "transaction")
    return {
        "tenant_id": tenant_id,
        "shop_id": item[SHOP_KEY],
        "statement_id": item[STATEMENT_KEY],
        "transaction_id": transaction_id,
        "type": _text(item.get("type"), 32),
        "order_id": _text(item.get("order_id") or item.get("adjustment_order_id"), 64),
        "currency": _text(item.get("currency"), 8) or _text(item.get(CURRENCY_KEY), 8),
        "revenue_amount": _money(item.get("revenue_amount")),
        "fee_amount": _money(item.get("fee_amount")),
        "shipping_cost_amount": _money(item.get("shipping_cost_amount")),
        "adjustment_amount": _money(item.get("adjustment_amount")),
        "settlement_amount": _money(item.get("settlement_amount")),
        "synced_at": synced_at,
    }


def transaction_rows(*, connection: Any, items: list[dict], synced_at: datetime) -> Rows:
    return _rows(
        connection=connection,
        items=items,
        synced_at=synced_at,
        convert=_transaction_row,
        name="transaction",
    )


def transactions_after_upsert(*, connection: Any, rows: list[dict], synced_at: datetime) -> None:
    """Mark the page's statement as fetched (one UPDATE)."""
    statement_ids = {row["statement_id"] for row in rows}
    if statement_ids:
        Statement.objects.filter(pk__in=statement_ids).update(transactions_synced_at=synced_at)


def _kind(kind: str, label: Any, model: str, unique: tuple, fetch: Any, to_rows: Any, **extra):
    return SyncKind(
        product=PRODUCT,
        kind=kind,
        label=label,
        model=model,
        unique_fields=unique,
        fetch_page=fetch,
        to_rows=to_rows,
        incremental=True,
        overlap=FINANCE_OVERLAP,
        window_step=FINANCE_WINDOW_STEP,
        schedule_minutes=FINANCE_SCHEDULE_MINUTES,
        **extra,
    )


FINANCE_SYNC_KINDS = [
    _kind(
        "finance_statements",
        _("Finance statements"),
        "tiktok_shop.Statement",
        ("shop", "statement_id"),
        fetch_statements,
        statement_rows,
    ),
    _kind(
        "finance_payments",
        _("Finance payments"),
        "tiktok_shop.Payment",
        ("shop", "payment_id"),
        fetch_payments,
        payment_rows,
    ),
    _kind(
        "finance_transactions",
        _("Finance transactions"),
        "tiktok_shop.StatementTransaction",
        ("statement", "transaction_id"),
        fetch_transactions,
        transaction_rows,
        after_upsert=transactions_after_upsert,
    ),
]


# --- the Finance page ---------------------------------------------------------------------


class Period:
    MONTH = "month"
    DAY = "day"
    CHOICES = ((MONTH, _("Month")), (DAY, _("Day")))


@dataclass(frozen=True)
class FinanceFilters:
    period: str = Period.MONTH
    date_from: date | None = None
    date_to: date | None = None
    shop: int | None = None


@dataclass(frozen=True)
class FinanceRow:
    period: date
    shop_pk: int
    shop_name: str
    currency: str
    statements: int
    revenue_amount: Decimal
    fee_amount: Decimal
    shipping_cost_amount: Decimal
    adjustment_amount: Decimal
    settlement_amount: Decimal


@dataclass(frozen=True)
class FinanceTotals:
    rows: list[FinanceRow]
    #: per currency over every row: {currency: {field: Decimal, "statements": n}}
    by_currency: dict[str, dict[str, Any]]


ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def _bounds(filters: FinanceFilters) -> Q:
    """Whole days in the current time zone, ``date_to`` included."""
    tz = timezone.get_current_timezone()
    q = Q()
    if filters.date_from:
        q &= Q(statement_time__gte=datetime.combine(filters.date_from, time.min, tzinfo=tz))
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=tz)
        q &= Q(statement_time__lt=end)
    return q


def finance_totals(*, tenant: Tenant, filters: FinanceFilters) -> FinanceTotals:
    """Statement totals per period (month or day), shop and currency: one SQL query.

    The per-currency grand totals are added up in Python from those rows (a
    handful per period), so the page costs the same whatever the number of
    statements.
    """
    trunc = TruncDay if filters.period == Period.DAY else TruncMonth
    statements = Statement.objects.for_tenant(tenant).filter(_bounds(filters))
    if filters.shop:
        statements = statements.filter(shop_id=filters.shop)
    grouped = (
        statements.annotate(period=trunc("statement_time"))
        .values("period", "shop_id", "shop__name", "shop__shop_id", "currency")
        .annotate(statements=Count("pk"), **{f: Sum(f) for f in AMOUNT_FIELDS})
        .order_by("-period", "shop__name", "shop_id", "currency")
    )
    rows: list[FinanceRow] = []
    by_currency: dict[str, dict[str, Any]] = {}
    for row in grouped:
        period = row["period"]
        period = period.date() if isinstance(period, datetime) else period
        # SQLite sums decimals as REAL and hands back up to 12 places: back to cents.
        amounts = {
            f: Decimal(row[f]).quantize(CENT) if row[f] is not None else ZERO for f in AMOUNT_FIELDS
        }
        rows.append(
            FinanceRow(
                period=period,
                shop_pk=row["shop_id"],
                shop_name=row["shop__name"] or row["shop__shop_id"],
                currency=row["currency"],
                statements=row["statements"],
                **amounts,
            )
        )
        total = by_currency.setdefault(
            row["currency"], {"statements": 0, **{f: ZERO for f in AMOUNT_FIELDS}}
        )
        total["statements"] += row["statements"]
        for f in AMOUNT_FIELDS:
            total[f] += amounts[f]
    return FinanceTotals(rows=rows, by_currency=dict(sorted(by_currency.items())))


CSV_HEADER = (
    "period",
    "shop",
    "currency",
    "statements",
    "revenue",
    "platform_fees",
    "shipping",
    "adjustments",
    "net_settlement",
)


def finance_csv(*, totals: FinanceTotals, period: str) -> str:
    """The page's table as CSV: one line per period, shop and currency, amounts as decimals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in totals.rows:
        label = row.period.strftime("%Y-%m") if period == Period.MONTH else row.period.isoformat()
        writer.writerow(
            [
                label,
                row.shop_name,
                row.currency,
                row.statements,
                *(f"{getattr(row, f):.2f}" for f in AMOUNT_FIELDS),
            ]
        )
    return out.getvalue()


def order_transactions(*, order: Any) -> list[StatementTransaction]:
    """The settlement lines of one order (one query), for its page."""
    return list(
        StatementTransaction.objects.filter(shop_id=order.shop_id, order_id=order.order_id)
        .select_related("statement")
        .order_by("statement__statement_time", "pk")
    )
