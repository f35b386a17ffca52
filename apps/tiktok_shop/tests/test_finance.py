"""Finance: statements, payments and transactions synced as decimals; totals, CSV, scoping."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_kinds, sync_run_for_connection_now
from apps.tiktok_shop import finance
from apps.tiktok_shop.models import (
    Payment,
    Shop,
    Statement,
    StatementTransaction,
    TikTokShopConnection,
)

from .test_client import API, CIPHER, load_fixture, query_of
from .test_returns import SHOP_ID, SHOPS, shops_answer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shop_settings")]


STATEMENTS = f"{API}/finance/202309/statements"
PAYMENTS = f"{API}/finance/202309/payments"
TRANSACTIONS = f"{API}/finance/202309/statements/{{id}}/statement_transactions"
FINANCE_URL = "/integrations/tiktok-shop/finance/"


@pytest.fixture
def connection(tenant_a, owner_a):
    return TikTokShopConnection.objects.create(
        tenant=tenant_a,
        access_token="ROW_token",
        refresh_token="ROW_refresh",
        granted_scopes=["seller.order.info", "seller.finance.info"],
    )


@pytest.fixture
def shop(connection, tenant_a):
    return Shop.objects.create(
        tenant=tenant_a, connection=connection, shop_id=SHOP_ID, name="Lumen US", cipher=CIPHER
    )


def run(connection, kind: str) -> SyncRun:
    result = sync_run_for_connection_now(connection=connection, kind=kind, trigger="manual")
    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    return result


@pytest.fixture
def statements(mocked, connection, shop):
    mocked.get(SHOPS, json=shops_answer())
    mocked.get(STATEMENTS, json=load_fixture("statements__page1"))
    mocked.get(STATEMENTS, json=load_fixture("statements__page2"))
    result = run(connection, "finance_statements")
    mocked.reset()
    return result


def test_the_finance_kinds_run_daily_and_incrementally():
    for kind in ("finance_statements", "finance_payments", "finance_transactions"):
        registered = sync_kinds.get("tiktok_shop", kind)
        assert registered.schedule_minutes == 24 * 60
        assert registered.incremental and registered.overlap.days == 3
        assert registered.window_step.days == 30


def test_statements_are_stored_as_decimals_with_their_currency(statements):
    assert statements.stats["created"] == 3
    first = Statement.objects.get(statement_id="7283155216810000001")
    assert first.statement_time == datetime(2023, 9, 30, tzinfo=UTC)
    assert first.currency == "USD"
    assert isinstance(first.revenue_amount, Decimal)
    assert (first.revenue_amount, first.fee_amount, first.shipping_cost_amount) == (
        Decimal("120.50"),
        Decimal("-10.13"),
        Decimal("-4.99"),
    )
    assert first.settlement_amount == Decimal("105.38")
    assert (first.payment_status, first.payment_id) == ("PAID", "8283155216810000001")


def test_an_incremental_statements_run_starts_three_days_before_the_last_one(
    statements, mocked, connection
):
    mocked.get(SHOPS, json=shops_answer())
    mocked.get(STATEMENTS, json={**load_fixture("statements__page2")})

    run(connection, "finance_statements")

    query = query_of(mocked.calls[1].request.url)
    assert int(query["statement_time_ge"]) == 1696204800 - 3 * 86400


def test_payments_are_stored_with_amount_and_currency(mocked, connection, shop):
    mocked.get(SHOPS, json=shops_answer())
    mocked.get(PAYMENTS, json=load_fixture("payments__page1"))

    run(connection, "finance_payments")

    paid = Payment.objects.get(payment_id="8283155216810000001")
    assert (paid.amount, paid.currency, paid.status) == (Decimal("105.38"), "USD", "PAID")
    assert paid.paid_time == datetime.fromtimestamp(1696204800, tz=UTC)
    assert paid.bank_account == "**** **** 4821"
    assert Payment.objects.get(payment_id="8283155216810000002").paid_time is None


def test_transactions_are_fetched_per_stored_statement(statements, mocked, connection):
    for n in (1, 2, 3):
        answer = load_fixture("statement_transactions__page1")
        statement_id = f"728315521681000000{n}"
        if n > 1:
            answer["data"]["statement_transactions"] = []
        mocked.get(TRANSACTIONS.format(id=statement_id), json=answer)

    result = run(connection, "finance_transactions")

    assert result.stats["created"] == 2
    rows = StatementTransaction.objects.order_by("transaction_id")
    assert [r.order_id for r in rows] == ["576486316948490001", "576486316948490009"]
    assert sum(r.settlement_amount for r in rows) == Decimal("105.38")
    assert rows[0].statement.statement_id == "7283155216810000001"
    assert Statement.objects.filter(transactions_synced_at__isnull=False).count() == 1
    assert len(mocked.calls) == 3  # one statement, one call each


def test_without_the_finance_pack_nothing_is_asked(mocked, connection, shop):
    connection.granted_scopes = ["seller.order.info"]
    connection.save()

    for kind in ("finance_statements", "finance_payments", "finance_transactions"):
        run(connection, kind)

    assert len(mocked.calls) == 0


# --- totals -------------------------------------------------------------------------------------


def add_statement(shop, statement_id, when, currency, revenue, fee, shipping, adjustment):
    settlement = Decimal(revenue) + Decimal(fee) + Decimal(shipping) + Decimal(adjustment)
    return Statement.objects.create(
        tenant=shop.tenant,
        shop=shop,
        statement_id=statement_id,
        statement_time=when,
        currency=currency,
        revenue_amount=Decimal(revenue),
        fee_amount=Decimal(fee),
        shipping_cost_amount=Decimal(shipping),
        adjustment_amount=Decimal(adjustment),
        settlement_amount=settlement,
        synced_at=when,
    )


def test_totals_per_month_shop_and_currency_equal_the_records_to_the_cent(statements, shop):
    other = Shop.objects.create(
        tenant=shop.tenant, connection=shop.connection, shop_id="2", name="Lumen GB", cipher="c"
    )
    add_statement(other, "g1", datetime(2023, 10, 5, tzinfo=UTC), "GBP", "10.01", "-0.85", "0", "0")
    add_statement(other, "g2", datetime(2023, 10, 6, tzinfo=UTC), "GBP", "0.02", "-0.01", "0", "0")

    totals = finance.finance_totals(tenant=shop.tenant, filters=finance.FinanceFilters())

    keyed = {(r.period, r.shop_name, r.currency): r for r in totals.rows}
    october = keyed[(date(2023, 10, 1), "Lumen US", "USD")]
    assert october.statements == 2
    assert october.settlement_amount == Decimal("67.35") + Decimal("18.62")
    assert october.revenue_amount == Decimal("100.09")
    assert keyed[(date(2023, 9, 1), "Lumen US", "USD")].settlement_amount == Decimal("105.38")
    assert keyed[(date(2023, 10, 1), "Lumen GB", "GBP")].settlement_amount == Decimal("9.17")
    # Currencies are never added together.
    assert totals.by_currency["USD"]["settlement_amount"] == sum(
        s.settlement_amount for s in Statement.objects.filter(currency="USD")
    )
    assert totals.by_currency["GBP"]["fee_amount"] == Decimal("-0.86")


def test_per_day_within_a_range(statements, shop):
    filters = finance.FinanceFilters(
        period=finance.Period.DAY, date_from=date(2023, 10, 1), date_to=date(2023, 10, 1)
    )

    totals = finance.finance_totals(tenant=shop.tenant, filters=filters)

    assert [(r.period, r.settlement_amount) for r in totals.rows] == [
        (date(2023, 10, 1), Decimal("67.35"))
    ]


def test_the_page_shows_the_totals_in_constant_queries(owner_client, statements, shop):
    def queries() -> tuple[int, str]:
        with CaptureQueriesContext(db) as captured:
            response = owner_client.get(FINANCE_URL)
        assert response.status_code == 200
        return len(captured), response.content.decode()

    few, page = queries()
    for n in range(60):
        add_statement(
            shop, f"x{n}", datetime(2023, 8, 1 + n % 28, tzinfo=UTC), "USD", "1.00", "0", "0", "0"
        )
    many, _ = queries()

    assert few == many
    assert 'data-field="net">191.35<' in page  # 105.38 + 67.35 + 18.62
    assert "2023-10" in page and "2023-09" in page
    assert reverse("tiktok_shop:finance_export") in page


def test_the_csv_export_is_the_same_table_with_the_same_filters(owner_client, statements):
    response = owner_client.get(
        reverse("tiktok_shop:finance_export"), {"period": "day", "date_from": "2023-10-01"}
    )

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == list(finance.CSV_HEADER)
    assert rows[1:] == [
        ["2023-10-02", "Lumen US", "USD", "1", "19.99", "-1.70", "0.00", "0.33", "18.62"],
        ["2023-10-01", "Lumen US", "USD", "1", "80.10", "-6.71", "-4.99", "-1.05", "67.35"],
    ]


def test_another_tenants_statements_are_not_counted(owner_client, statements, tenant_b):
    other = TikTokShopConnection.objects.create(tenant=tenant_b, access_token="b")
    theirs = Shop.objects.create(tenant=tenant_b, connection=other, shop_id="9", cipher="c")
    add_statement(theirs, "b1", datetime(2023, 10, 1, tzinfo=UTC), "USD", "1000", "0", "0", "0")

    page = owner_client.get(FINANCE_URL).content.decode()
    exported = owner_client.get(reverse("tiktok_shop:finance_export")).content.decode()

    assert 'data-field="net">191.35<' in page
    assert "1000" not in exported
