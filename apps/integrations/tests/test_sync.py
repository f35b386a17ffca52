"""The shared sync runner, driven by a fake provider that serves campaigns page by page.

The fake registers a real SyncKind (target: TikTokAdsCampaign) for the test
only. It serves ``total`` deterministic records, ``page_size`` a page, can
raise at a given page, and records every ``fetch_page`` call.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.integrations.models import SyncRun
from apps.integrations.sync import (
    SYNC_RUN_LEASE,
    Page,
    Rows,
    SkipItem,
    SyncKind,
    SyncWindow,
    UnknownSyncKind,
    rows_convert,
    sync_error_text,
    sync_kinds,
    sync_run_execute,
    sync_run_for_connection_now,
    sync_run_start,
)
from apps.tiktok_ads.models import TikTokAdsCampaign, TikTokAdsConnection

PRODUCT = "tiktok_ads"
KIND = "fake_campaigns"
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)


class ProviderDown(Exception):
    pass


class FakeCampaignProvider:
    """Serves ``total`` campaigns; record n was last modified at BASE_TIME + n hours."""

    def __init__(self, total: int = 25, page_size: int = 10) -> None:
        self.total = total
        self.page_size = page_size
        self.fail_at_page: int | None = None
        self.failure: BaseException = ProviderDown("provider is down")
        self.invalid: set[int] = set()
        self.calls: list[tuple[int, SyncWindow]] = []

    def record(self, n: int) -> dict:
        return {
            "campaign_id": "" if n in self.invalid else f"18{n:08d}",
            "advertiser_id": "7000000001",
            "campaign_name": f"Campaign {n}",
            "objective_type": "CONVERSIONS",
            "budget": f"{n}.50" if n % 3 else "-",
            "budget_mode": "BUDGET_MODE_DAY",
            "operation_status": "ENABLE",
            "secondary_status": "CAMPAIGN_STATUS_ENABLE",
            "create_time": "2024-12-01 08:00:00",
            "modify_time": (BASE_TIME + timedelta(hours=n)).strftime("%Y-%m-%d %H:%M:%S"),
        }

    def matching(self, window: SyncWindow) -> list[dict]:
        records = [self.record(n) for n in range(self.total)]
        return [
            r
            for r in records
            if (window.start is None or _provider_time(r["modify_time"]) >= window.start)
            and (window.end is None or _provider_time(r["modify_time"]) < window.end)
        ]

    def fetch_page(self, *, connection, cursor: dict, window: SyncWindow) -> Page:
        number = cursor.get("page", 1)
        self.calls.append((number, window))
        if self.fail_at_page == number:
            raise self.failure
        records = self.matching(window)
        items = records[(number - 1) * self.page_size : number * self.page_size]
        total_pages = max(1, math.ceil(len(records) / self.page_size))
        high_water = max((_provider_time(i["modify_time"]) for i in items), default=None)
        return Page(
            items=items,
            next_cursor={"page": number + 1} if number < total_pages else None,
            high_water=high_water,
            total_pages=total_pages,
        )

    def to_rows(self, *, connection, items: list[dict], synced_at: datetime) -> Rows:
        def convert(item: dict) -> dict:
            if not item["campaign_id"]:
                raise SkipItem("record without campaign_id")
            return {
                "tenant_id": connection.tenant_id,
                "connection_id": connection.pk,
                "advertiser_id": item["advertiser_id"],
                "campaign_id": item["campaign_id"],
                "name": item["campaign_name"],
                "objective_type": item["objective_type"],
                "budget": None if item["budget"] == "-" else Decimal(item["budget"]),
                "budget_mode": item["budget_mode"],
                "operation_status": item["operation_status"],
                "secondary_status": item["secondary_status"],
                "provider_created_at": _provider_time(item["create_time"]),
                "provider_modified_at": _provider_time(item["modify_time"]),
                "raw": item,
                "synced_at": synced_at,
            }

        return rows_convert(items=items, convert=convert, id_field="campaign_name")

    def pages_fetched(self) -> list[int]:
        return [number for number, _ in self.calls]


def _provider_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


@pytest.fixture
def provider() -> FakeCampaignProvider:
    return FakeCampaignProvider()


@pytest.fixture
def register_kind(provider) -> Iterator:
    """Register a SyncKind wired to the fake provider; unregistered after the test."""
    registered: list[SyncKind] = []

    def register(**overrides) -> SyncKind:
        kind = SyncKind(
            product=PRODUCT,
            kind=KIND,
            label="Fake campaigns",
            model="tiktok_ads.TikTokAdsCampaign",
            unique_fields=("tenant", "campaign_id"),
            fetch_page=provider.fetch_page,
            to_rows=provider.to_rows,
        )
        kind = replace(kind, **overrides)
        sync_kinds.register(kind)
        registered.append(kind)
        return kind

    yield register
    for kind in registered:
        sync_kinds.unregister(kind.product, kind.kind)


@pytest.fixture
def fake_kind(register_kind) -> SyncKind:
    return register_kind()


@pytest.fixture
def ads_connection(tenant_a) -> TikTokAdsConnection:
    return TikTokAdsConnection.objects.create(tenant=tenant_a, status="connected")


def run_now(connection, **kwargs) -> SyncRun:
    kwargs.setdefault("trigger", SyncRun.Trigger.MANUAL)
    return sync_run_for_connection_now(connection=connection, kind=KIND, **kwargs)


def campaign_ids() -> list[str]:
    return list(
        TikTokAdsCampaign.objects.order_by("campaign_id").values_list("campaign_id", flat=True)
    )


def expected_ids(provider: FakeCampaignProvider) -> list[str]:
    return sorted(provider.record(n)["campaign_id"] for n in range(provider.total))


# --- a full run ------------------------------------------------------------------


def test_a_run_upserts_every_page_and_records_stats(provider, fake_kind, ads_connection):
    run = run_now(ads_connection)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert provider.pages_fetched() == [1, 2, 3]
    assert campaign_ids() == expected_ids(provider)
    assert run.stats == {"fetched": 25, "created": 25, "updated": 0, "skipped": 0, "errors": 0}
    assert run.started_at and run.finished_at and run.error == ""
    ads_connection.refresh_from_db()
    assert ads_connection.last_sync_at == run.finished_at

    row = TikTokAdsCampaign.objects.get(campaign_id="1800000004")
    assert (row.name, row.budget) == ("Campaign 4", Decimal("4.50"))
    assert TikTokAdsCampaign.objects.get(campaign_id="1800000003").budget is None

    again = run_now(ads_connection)
    assert again.pk != run.pk
    assert again.stats["created"] == 0 and again.stats["updated"] == 25
    assert TikTokAdsCampaign.objects.count() == 25


# --- (a) interrupted then rerun --------------------------------------------------


def test_failed_run_is_resumed_by_the_next_and_nothing_is_duplicated(
    provider, fake_kind, ads_connection
):
    provider.fail_at_page = 2
    failed = run_now(ads_connection)

    assert failed.status == SyncRun.Status.FAILED
    assert failed.stats == {"fetched": 10, "created": 10, "updated": 0, "skipped": 0, "errors": 1}
    assert failed.checkpoint["cursor"] == {"page": 2}
    assert TikTokAdsCampaign.objects.count() == 10  # page 1 committed with its checkpoint

    provider.fail_at_page = None
    provider.calls.clear()
    resumed = run_now(ads_connection)

    assert resumed.status == SyncRun.Status.SUCCEEDED
    assert provider.pages_fetched() == [2, 3]  # only what was left
    assert resumed.checkpoint["resumed_from"] == failed.pk
    assert resumed.stats["fetched"] == 15 and resumed.stats["created"] == 15
    assert campaign_ids() == expected_ids(provider)
    assert TikTokAdsCampaign.objects.count() == provider.total


def test_a_failure_at_the_first_page_restarts_from_scratch(provider, fake_kind, ads_connection):
    provider.fail_at_page = 1
    assert run_now(ads_connection).status == SyncRun.Status.FAILED
    provider.fail_at_page = None
    provider.calls.clear()
    assert run_now(ads_connection).status == SyncRun.Status.SUCCEEDED
    assert provider.pages_fetched() == [1, 2, 3]


def test_after_a_success_the_next_run_starts_over(provider, fake_kind, ads_connection):
    run_now(ads_connection)
    provider.calls.clear()
    run = run_now(ads_connection)
    assert provider.pages_fetched() == [1, 2, 3]
    assert run.checkpoint["resumed_from"] is None


def test_ctrl_c_leaves_the_run_interrupted_with_its_checkpoint(provider, fake_kind, ads_connection):
    provider.fail_at_page = 3
    provider.failure = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        run_now(ads_connection)

    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.INTERRUPTED
    assert run.checkpoint["cursor"] == {"page": 3}
    assert run.stats["fetched"] == 20

    provider.fail_at_page = None
    provider.calls.clear()
    assert run_now(ads_connection).status == SyncRun.Status.SUCCEEDED
    assert provider.pages_fetched() == [3]
    assert TikTokAdsCampaign.objects.count() == 25


# --- (b) one active run per connection and kind -----------------------------------


def test_a_second_start_returns_the_active_run(fake_kind, ads_connection):
    first = sync_run_start(connection=ads_connection, kind=KIND, trigger="manual")
    second = sync_run_start(connection=ads_connection, kind=KIND, trigger="schedule")
    assert second.pk == first.pk
    assert SyncRun.objects.count() == 1

    SyncRun.objects.filter(pk=first.pk).update(status="running", heartbeat_at=timezone.now())
    assert sync_run_start(connection=ads_connection, kind=KIND, trigger="manual").pk == first.pk

    SyncRun.objects.filter(pk=first.pk).update(status="succeeded")
    third = sync_run_start(connection=ads_connection, kind=KIND, trigger="manual")
    assert third.pk != first.pk and third.status == SyncRun.Status.QUEUED


def test_only_one_worker_claims_a_run(provider, fake_kind, ads_connection):
    run = sync_run_start(connection=ads_connection, kind=KIND, trigger="manual")
    assert sync_run_execute(run_id=run.pk).status == SyncRun.Status.SUCCEEDED
    calls = len(provider.calls)

    # The queue delivered the task twice: the second delivery does nothing.
    assert sync_run_execute(run_id=run.pk).status == SyncRun.Status.SUCCEEDED
    assert len(provider.calls) == calls
    assert sync_run_execute(run_id=987654) is None


def test_runs_of_different_connections_or_kinds_do_not_block_each_other(
    register_kind, ads_connection, tenant_b
):
    register_kind()
    register_kind(kind="fake_other")
    other = TikTokAdsConnection.objects.create(tenant=tenant_b, status="connected")
    a = sync_run_start(connection=ads_connection, kind=KIND, trigger="manual")
    b = sync_run_start(connection=other, kind=KIND, trigger="manual")
    c = sync_run_start(connection=ads_connection, kind="fake_other", trigger="manual")
    assert len({a.pk, b.pk, c.pk}) == 3
    assert (b.tenant_id, c.kind) == (tenant_b.pk, "fake_other")


# --- (c) stale runs --------------------------------------------------------------


def _simulate_killed_worker(run: SyncRun, *, heartbeat_age: timedelta) -> None:
    """What a SIGKILLed worker leaves behind: a 'running' run with an old heartbeat."""
    SyncRun.objects.filter(pk=run.pk).update(
        status="running", finished_at=None, error="", heartbeat_at=timezone.now() - heartbeat_age
    )


def test_a_stale_running_run_is_interrupted_and_resumed(provider, fake_kind, ads_connection):
    provider.fail_at_page = 3
    dead = run_now(ads_connection)
    _simulate_killed_worker(dead, heartbeat_age=SYNC_RUN_LEASE + timedelta(seconds=1))

    provider.fail_at_page = None
    provider.calls.clear()
    new = sync_run_start(connection=ads_connection, kind=KIND, trigger="schedule")

    assert new.pk != dead.pk
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.INTERRUPTED
    assert "heartbeat" in dead.error

    finished = sync_run_execute(run_id=new.pk)
    assert finished.status == SyncRun.Status.SUCCEEDED
    assert finished.checkpoint["resumed_from"] == dead.pk
    assert provider.pages_fetched() == [3]
    assert campaign_ids() == expected_ids(provider)


def test_a_live_running_run_is_left_alone(provider, fake_kind, ads_connection):
    provider.fail_at_page = 2
    run = run_now(ads_connection)
    _simulate_killed_worker(run, heartbeat_age=SYNC_RUN_LEASE - timedelta(minutes=1))

    assert sync_run_start(connection=ads_connection, kind=KIND, trigger="manual").pk == run.pk
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING


def test_a_queued_run_never_picked_up_is_replaced(fake_kind, ads_connection):
    lost = sync_run_start(connection=ads_connection, kind=KIND, trigger="schedule")
    SyncRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - SYNC_RUN_LEASE * 2)

    new = sync_run_start(connection=ads_connection, kind=KIND, trigger="schedule")
    assert new.pk != lost.pk
    lost.refresh_from_db()
    assert lost.status == SyncRun.Status.INTERRUPTED
    # Its task, delivered late, finds nothing to claim.
    assert sync_run_execute(run_id=lost.pk).status == SyncRun.Status.INTERRUPTED


def test_a_run_taken_over_while_running_stops_without_committing_the_page(
    provider, fake_kind, ads_connection
):
    run = sync_run_start(connection=ads_connection, kind=KIND, trigger="manual")
    fetch = provider.fetch_page

    def fetch_then_get_taken_over(**kwargs) -> Page:
        page = fetch(**kwargs)
        if kwargs["cursor"].get("page") == 2:  # another process presumed us dead
            SyncRun.objects.filter(pk=run.pk).update(status="interrupted")
        return page

    sync_kinds.unregister(PRODUCT, KIND)
    sync_kinds.register(replace(fake_kind, fetch_page=fetch_then_get_taken_over))

    result = sync_run_execute(run_id=run.pk)
    assert result.status == SyncRun.Status.INTERRUPTED
    assert result.checkpoint["cursor"] == {"page": 2}
    assert TikTokAdsCampaign.objects.count() == 10


# --- (d) incremental -------------------------------------------------------------


def test_incremental_run_starts_at_high_water_minus_overlap(
    provider, register_kind, ads_connection
):
    overlap = timedelta(hours=3)
    register_kind(incremental=True, overlap=overlap)

    first = run_now(ads_connection)
    high_water = BASE_TIME + timedelta(hours=provider.total - 1)
    assert first.window_start is None
    assert first.checkpoint["high_water"] == high_water.isoformat()

    provider.total = 30  # five new campaigns since
    provider.calls.clear()
    second = run_now(ads_connection)

    assert second.window_start == high_water - overlap
    assert [w.start for _, w in provider.calls] == [high_water - overlap]
    # Records modified in the overlap come again (updated), the new ones are created.
    assert second.stats["fetched"] == 4 + 5
    assert (second.stats["created"], second.stats["updated"]) == (5, 4)
    assert second.checkpoint["high_water"] == (BASE_TIME + timedelta(hours=29)).isoformat()
    assert TikTokAdsCampaign.objects.count() == 30


def test_high_water_is_kept_when_nothing_new_arrives(provider, register_kind, ads_connection):
    register_kind(incremental=True, overlap=timedelta(0))
    first = run_now(ads_connection)
    second = run_now(ads_connection)
    assert second.stats["fetched"] == 1  # the newest record, at exactly the high-water mark
    third = run_now(ads_connection)
    assert first.checkpoint["high_water"] == third.checkpoint["high_water"]
    assert third.window_start == second.window_start


def test_a_failed_incremental_run_is_resumed_with_the_same_window(
    provider, register_kind, ads_connection
):
    register_kind(incremental=True)
    run_now(ads_connection)
    provider.total = 60
    provider.fail_at_page = 2
    failed = run_now(ads_connection)
    provider.fail_at_page = None
    provider.calls.clear()
    resumed = run_now(ads_connection)
    assert resumed.window_start == failed.window_start
    assert resumed.checkpoint["resumed_from"] == failed.pk
    assert provider.pages_fetched() == [2, 3, 4]
    assert TikTokAdsCampaign.objects.count() == 60


# --- windows ---------------------------------------------------------------------


def test_backfill_window_is_split_into_steps_and_resumed_in_the_right_step(
    provider, register_kind, ads_connection
):
    register_kind(window_step=timedelta(hours=10))
    provider.total = 30
    provider.page_size = 4
    window = SyncWindow(BASE_TIME, BASE_TIME + timedelta(hours=30))

    provider.fail_at_page = 2
    calls_before = len(provider.calls)
    failed = run_now(ads_connection, trigger="backfill", window=window)
    assert failed.status == SyncRun.Status.FAILED
    assert failed.checkpoint["window_index"] == 0
    assert len(provider.calls) - calls_before == 2

    provider.fail_at_page = None
    provider.calls.clear()
    run = run_now(ads_connection, trigger="backfill", window=window)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.checkpoint["resumed_from"] == failed.pk
    starts = [(w.start - BASE_TIME, number) for number, w in provider.calls]
    hours = timedelta(hours=1)
    assert starts == [
        (0 * hours, 2),
        (0 * hours, 3),
        (10 * hours, 1),
        (10 * hours, 2),
        (10 * hours, 3),
        (20 * hours, 1),
        (20 * hours, 2),
        (20 * hours, 3),
    ]
    assert run.checkpoint["windows"] == [
        SyncWindow(BASE_TIME + i * 10 * hours, BASE_TIME + (i + 1) * 10 * hours).to_json()
        for i in range(3)
    ]
    assert TikTokAdsCampaign.objects.count() == 30


def test_a_backfill_with_another_window_does_not_resume(provider, fake_kind, ads_connection):
    provider.fail_at_page = 2
    run_now(ads_connection)
    provider.fail_at_page = None
    provider.calls.clear()
    window = SyncWindow(BASE_TIME, BASE_TIME + timedelta(days=2))
    run = run_now(ads_connection, trigger="backfill", window=window)
    assert provider.pages_fetched() == [1, 2, 3]
    assert run.checkpoint["resumed_from"] is None


# --- (e) skipped records ---------------------------------------------------------


def test_invalid_records_are_counted_and_logged_as_skipped(
    provider, fake_kind, ads_connection, caplog
):
    provider.invalid = {3, 17}
    with caplog.at_level(logging.WARNING, logger="apps.integrations.sync"):
        run = run_now(ads_connection)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.stats["fetched"] == 25
    assert run.stats["skipped"] == 2
    assert run.stats["created"] == 23
    skipped_lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any("Campaign 3" in line and "without campaign_id" in line for line in skipped_lines)
    assert any("Campaign 17" in line for line in skipped_lines)


def test_records_dropped_without_a_reason_still_count_as_skipped(
    provider, register_kind, ads_connection, caplog
):
    def lossy_to_rows(**kwargs) -> list[dict]:
        return provider.to_rows(**kwargs).rows[:-1]  # loses one record a page, says nothing

    register_kind(to_rows=lossy_to_rows)
    with caplog.at_level(logging.WARNING, logger="apps.integrations.sync"):
        run = run_now(ads_connection)
    assert run.stats["skipped"] == 3
    assert run.stats["created"] == 22
    assert "dropped by to_rows without a reason" in caplog.text


# --- (f) errors never carry a token ----------------------------------------------


def test_the_stored_error_never_contains_a_token(provider, fake_kind, ads_connection, caplog):
    ads_connection.access_token = "plain-secret"  # short: only known-secret redaction catches it
    ads_connection.save()
    leaked = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"
    provider.fail_at_page = 2
    provider.failure = ProviderDown(
        f"401 GET https://business-api.tiktok.com/open_api/v1.3/campaign/get/?access_token={leaked}"
        f" headers={{'Access-Token': '{leaked}', 'Authorization': 'Bearer {leaked}'}}"
        f" token was plain-secret " + "x" * 2000
    )
    with caplog.at_level(logging.INFO):
        run = run_now(ads_connection)

    assert run.status == SyncRun.Status.FAILED
    assert run.stats["errors"] == 1
    assert leaked not in run.error and "plain-secret" not in run.error
    assert run.error.startswith("ProviderDown: 401 GET https://business-api.tiktok.com/open_api/")
    assert len(run.error) <= 500
    assert leaked not in caplog.text and "plain-secret" not in caplog.text


@pytest.mark.parametrize(
    "message",
    [
        "refresh_token=rt-0123456789abcdef&grant_type=refresh_token",
        '{"access_token": "act.example0123456789abcdefghijklmnop"}',
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
        "app secret 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 rejected",
    ],
)
def test_error_text_redacts_token_shapes(message):
    secret_parts = ["rt-0123456789abcdef", "example0123456789", "eyJzdWIiOiIx", "9f86d08188"]
    text = sync_error_text(ValueError(message))
    assert not any(part in text for part in secret_parts)
    assert "[redacted]" in text


def test_error_text_keeps_what_helps(db):
    text = sync_error_text(ValueError("code 40100: advertiser 7000000001 has no permission"))
    assert text == "ValueError: code 40100: advertiser 7000000001 has no permission"


def test_a_disconnected_connection_fails_the_run_clearly(fake_kind, ads_connection):
    run = sync_run_start(connection=ads_connection, kind=KIND, trigger="manual")
    ads_connection.status = "disconnected"
    ads_connection.save()
    result = sync_run_execute(run_id=run.pk)
    assert result.status == SyncRun.Status.FAILED
    assert "disconnected" in result.error


def test_unknown_kind_names_the_registered_ones(fake_kind, ads_connection):
    with pytest.raises(UnknownSyncKind) as raised:
        sync_run_start(connection=ads_connection, kind="nope", trigger="manual")
    assert "'nope'" in str(raised.value) and KIND in str(raised.value)


# --- (g) queries per page ---------------------------------------------------------


def _queries_for_run(connection, **kwargs) -> int:
    run = sync_run_start(connection=connection, kind=KIND, trigger="manual", **kwargs)
    with CaptureQueriesContext(db_connection) as ctx:
        result = sync_run_execute(run_id=run.pk)
    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    return len(ctx.captured_queries)


def test_queries_per_page_do_not_depend_on_page_size(provider, fake_kind, make_tenant):
    def connection_with(total: int, page_size: int) -> TikTokAdsConnection:
        provider.total, provider.page_size = total, page_size
        return TikTokAdsConnection.objects.create(tenant=make_tenant(), status="connected")

    one_small_page = _queries_for_run(connection_with(10, 10))
    one_large_page = _queries_for_run(connection_with(200, 200))
    three_large_pages = _queries_for_run(connection_with(600, 200))

    per_page = (three_large_pages - one_large_page) // 2
    assert one_small_page == one_large_page
    assert three_large_pages == one_large_page + 2 * per_page
    # Upsert (SQLite: 2, PostgreSQL: 4 with the COPY) + checkpoint UPDATE + savepoint pair.
    # Change these numbers consciously.
    budget = 7 if db_connection.vendor == "postgresql" else 5
    assert per_page == budget
