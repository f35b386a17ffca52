"""bulk_upsert: counts, values identical to the ORM's, duplicate keys, constant queries.

Runs on SQLite by default and on PostgreSQL (the COPY path) with DATABASE_URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from apps.integrations.upsert import UpsertResult, bulk_upsert
from apps.tiktok_ads.models import TikTokAdsCampaign, TikTokAdsConnection

UNIQUE = ("tenant", "campaign_id")
SYNCED_AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ads_connection(tenant_a) -> TikTokAdsConnection:
    return TikTokAdsConnection.objects.create(tenant=tenant_a, status="connected")


def campaign_row(conn: TikTokAdsConnection, n: int, **overrides) -> dict:
    row = {
        "tenant_id": conn.tenant_id,
        "connection_id": conn.pk,
        "advertiser_id": "7000000001",
        "campaign_id": f"cmp-{n:05d}",
        "name": f"Campaign {n}",
        "objective_type": "CONVERSIONS",
        "budget": Decimal("100.50") + n,
        "budget_mode": "BUDGET_MODE_DAY",
        "operation_status": "ENABLE",
        "secondary_status": "CAMPAIGN_STATUS_ENABLE",
        "provider_created_at": SYNCED_AT - timedelta(days=n),
        "provider_modified_at": SYNCED_AT - timedelta(hours=n),
        "raw": {"campaign_id": f"cmp-{n:05d}", "n": n},
        "synced_at": SYNCED_AT,
    }
    row.update(overrides)
    return row


def upsert(rows: list[dict], **kwargs) -> UpsertResult:
    return bulk_upsert(model=TikTokAdsCampaign, rows=rows, unique_fields=UNIQUE, **kwargs)


def test_insert_then_update_counts(ads_connection):
    assert upsert([campaign_row(ads_connection, n) for n in range(5)]) == UpsertResult(5, 0)

    rows = [campaign_row(ads_connection, n, name=f"Renamed {n}") for n in range(3, 8)]
    assert upsert(rows) == UpsertResult(created=3, updated=2)

    assert TikTokAdsCampaign.objects.count() == 8
    names = dict(TikTokAdsCampaign.objects.values_list("campaign_id", "name"))
    assert names["cmp-00002"] == "Campaign 2"
    assert names["cmp-00004"] == "Renamed 4"
    assert names["cmp-00007"] == "Renamed 7"


def test_empty_rows_do_nothing(ads_connection, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert upsert([]) == UpsertResult(0, 0)


def test_values_round_trip_exactly_as_the_orm_stores_them(ads_connection):
    tricky = {
        "campaign_name": 'Promoção de verão ✓ "quoted" \\ back\\slash\ttab\nnewline',
        "budget": 1234.5,
        "nested": {"list": [1, None, True, "x"], "empty": {}},
        "null": None,
    }
    values = {
        "budget": Decimal("1234.50"),
        "provider_created_at": datetime(2024, 5, 17, 23, 30, 15, 123456, tzinfo=UTC),
        # Not UTC on purpose: stored as the same instant, read back as UTC.
        "provider_modified_at": datetime(2024, 5, 18, 6, 30, tzinfo=timezone(timedelta(hours=7))),
        "raw": tricky,
        "name": "Ação — 'quotes' and \"doubles\"",
    }
    orm = TikTokAdsCampaign.objects.create(
        tenant_id=ads_connection.tenant_id,
        connection=ads_connection,
        advertiser_id="7000000001",
        campaign_id="orm",
        synced_at=SYNCED_AT,
        **values,
    )
    upsert([campaign_row(ads_connection, 1, campaign_id="bulk", **values)])

    bulk = TikTokAdsCampaign.objects.get(campaign_id="bulk")
    orm.refresh_from_db()
    for name in ("budget", "provider_created_at", "provider_modified_at", "raw", "name"):
        assert getattr(bulk, name) == getattr(orm, name), name
    assert bulk.budget == Decimal("1234.50")
    assert str(bulk.budget) == "1234.50"
    assert bulk.provider_modified_at == datetime(2024, 5, 17, 23, 30, tzinfo=UTC)
    assert bulk.raw == tricky


def test_nulls_and_updates_to_null(ads_connection):
    upsert([campaign_row(ads_connection, 1)])
    result = upsert(
        [campaign_row(ads_connection, 1, budget=None, provider_created_at=None, raw=[])]
    )
    assert result == UpsertResult(created=0, updated=1)
    row = TikTokAdsCampaign.objects.get()
    assert row.budget is None
    assert row.provider_created_at is None
    assert row.raw == []


def test_duplicate_keys_in_one_batch_last_row_wins_counted_once(ads_connection):
    rows = [
        campaign_row(ads_connection, 1, name="first"),
        campaign_row(ads_connection, 2),
        campaign_row(ads_connection, 1, name="last"),
    ]
    assert upsert(rows) == UpsertResult(created=2, updated=0)
    assert TikTokAdsCampaign.objects.get(campaign_id="cmp-00001").name == "last"

    assert upsert(rows) == UpsertResult(created=0, updated=2)
    assert TikTokAdsCampaign.objects.count() == 2


def test_many_batches_count_like_one(ads_connection):
    upsert([campaign_row(ads_connection, n) for n in range(0, 20, 2)], batch_size=3)
    result = upsert([campaign_row(ads_connection, n) for n in range(20)], batch_size=7)
    assert result == UpsertResult(created=10, updated=10)
    assert TikTokAdsCampaign.objects.count() == 20


def test_same_key_in_two_tenants_is_two_rows(ads_connection, tenant_b):
    other = TikTokAdsConnection.objects.create(tenant=tenant_b, status="connected")
    rows = [campaign_row(ads_connection, 1), campaign_row(other, 1)]
    assert upsert(rows) == UpsertResult(created=2, updated=0)


def test_update_fields_limits_what_changes(ads_connection):
    upsert([campaign_row(ads_connection, 1)])
    changed = campaign_row(ads_connection, 1, name="new name", operation_status="DISABLE")
    assert upsert([changed], update_fields=["operation_status"]) == UpsertResult(0, 1)
    row = TikTokAdsCampaign.objects.get()
    assert (row.name, row.operation_status) == ("Campaign 1", "DISABLE")


def test_missing_columns_take_the_model_default_on_insert_only(ads_connection):
    row = campaign_row(ads_connection, 1)
    del row["raw"], row["name"]
    upsert([row])
    stored = TikTokAdsCampaign.objects.get()
    assert (stored.raw, stored.name) == ({}, "")

    stored.raw = {"kept": True}
    stored.save()
    upsert([row])
    assert TikTokAdsCampaign.objects.get().raw == {"kept": True}


def test_foreign_keys_as_instances_or_ids(ads_connection):
    row = campaign_row(ads_connection, 1)
    del row["tenant_id"], row["connection_id"]
    row.update(tenant=ads_connection.tenant, connection=ads_connection)
    assert upsert([row]) == UpsertResult(1, 0)
    assert TikTokAdsCampaign.objects.get().connection_id == ads_connection.pk


def test_rows_with_different_keys_are_refused(ads_connection):
    rows = [campaign_row(ads_connection, 1), {**campaign_row(ads_connection, 2), "name": None}]
    rows[1].pop("budget")
    with pytest.raises(ValueError, match="every row must have"):
        upsert(rows)


def test_unknown_column_is_refused(ads_connection):
    with pytest.raises(Exception, match="no_such_field"):
        upsert([{**campaign_row(ads_connection, 1), "no_such_field": 1}])


def _queries_for(ads_connection, count: int, offset: int) -> list[str]:
    rows = [campaign_row(ads_connection, offset + n) for n in range(count)]
    with CaptureQueriesContext(connection) as ctx:
        upsert(rows)
    return [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def fresh_session_state():
    """Forget what earlier tests' (rolled back) transactions left in the staging bookkeeping."""
    connections["default"]._upsert_staging_tables = None


def _statements(queries: list[str]) -> list[str]:
    """The first word of each statement, without the transaction's own BEGIN and COMMIT."""
    return [q.split()[0] for q in queries if q not in ("BEGIN", "COMMIT")]


def test_one_page_costs_a_constant_number_of_queries(ads_connection, fresh_session_state):
    small = _queries_for(ads_connection, 10, offset=0)
    large = _queries_for(ads_connection, 500, offset=1000)
    updates = _queries_for(ads_connection, 500, offset=1000)
    assert len(large) == len(updates)
    if connection.vendor == "postgresql":
        # Inside this test's transaction nothing commits: each call asks for the staging
        # table again, and a later call empties what the earlier one left in it.
        assert _statements(small) == ["CREATE", "COPY", "WITH"]
        assert _statements(large) == ["CREATE", "DELETE", "COPY", "WITH"]
        assert "ON COMMIT DELETE ROWS" in small[0]
        assert "ON CONFLICT" in small[2]
    else:
        # Count the existing keys, one executemany.
        assert len(small) == len(large) == 2
    assert TikTokAdsCampaign.objects.count() == 510


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path")
def test_after_a_commit_a_page_is_one_copy_and_one_insert(tenant_a, fresh_session_state):
    conn = TikTokAdsConnection.objects.create(tenant=tenant_a, status="connected")
    first = _queries_for(conn, 10, offset=0)
    second = _queries_for(conn, 500, offset=1000)
    third = _queries_for(conn, 500, offset=1000)
    # The table lasts the session and the commit emptied it: no CREATE, no DELETE.
    assert _statements(first) == ["CREATE", "COPY", "WITH"]
    assert _statements(second) == _statements(third) == ["COPY", "WITH"]
    assert TikTokAdsCampaign.objects.count() == 510


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path")
def test_a_rolled_back_first_use_creates_the_staging_table_again(tenant_a):
    from django.db import transaction

    conn = TikTokAdsConnection.objects.create(tenant=tenant_a, status="connected")
    with pytest.raises(RuntimeError), transaction.atomic():
        upsert([campaign_row(conn, 1)])
        raise RuntimeError("the caller's transaction fails after the upsert")
    # The CREATE went with the rollback; the next call must not assume the table.
    assert upsert([campaign_row(conn, 2)]) == UpsertResult(1, 0)
    assert upsert([campaign_row(conn, 2), campaign_row(conn, 3)]) == UpsertResult(1, 1)
    assert sorted(TikTokAdsCampaign.objects.values_list("campaign_id", flat=True)) == [
        "cmp-00002",
        "cmp-00003",
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path")
def test_after_a_rollback_the_next_transaction_does_not_empty_the_table_again(
    tenant_a, fresh_session_state
):
    from django.db import transaction

    conn = TikTokAdsConnection.objects.create(tenant=tenant_a, status="connected")
    _queries_for(conn, 5, offset=0)  # creates the staging table and commits
    with pytest.raises(RuntimeError), transaction.atomic():
        upsert([campaign_row(conn, 100)])
        raise RuntimeError("the caller's transaction fails after the upsert")
    # The rollback took the rows away: no DELETE is needed in the next transaction.
    assert _statements(_queries_for(conn, 5, offset=200)) == ["COPY", "WITH"]


def test_upsert_inside_a_caller_transaction_can_run_twice(ads_connection):
    from django.db import transaction

    with transaction.atomic():
        upsert([campaign_row(ads_connection, 1)])
        assert upsert([campaign_row(ads_connection, 1)]) == UpsertResult(0, 1)


def test_auto_now_fields_behave_as_in_save(tenant_a):
    """created_at (auto_now_add) is set once; updated_at (auto_now) moves on every update."""
    row = {"tenant_id": tenant_a.pk, "display_name": "Shop", "status": "connected"}
    bulk_upsert(model=TikTokAdsConnection, rows=[row], unique_fields=["tenant"])
    first = TikTokAdsConnection.objects.get()
    assert first.created_at is not None and first.updated_at is not None
    assert (first.scope_packs, first.assets, first.access_token) == ([], {}, None)

    result = bulk_upsert(
        model=TikTokAdsConnection,
        rows=[{**row, "display_name": "Renamed"}],
        unique_fields=["tenant"],
    )
    assert result == UpsertResult(created=0, updated=1)
    second = TikTokAdsConnection.objects.get()
    assert second.display_name == "Renamed"
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
