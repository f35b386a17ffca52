"""Insights: which days a run asks for, how the cursor walks, and the query bound of a page.

HTTP is mocked with ``responses`` on the real host; the sandbox walk (a
180-day backfill) lives in ``test_insights_backfill.py``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.integrations.models import SyncRun
from apps.integrations.sync import (
    InvalidWindow,
    Page,
    SyncWindow,
    sync_kinds,
    sync_run_for_connection_now,
    sync_window_for_dates,
)
from apps.integrations.testing import load_fixture
from apps.tiktok_ads.client import REPORT_MAX_DAYS_DAILY, TikTokAdsClient
from apps.tiktok_ads.models import TikTokAdInsight, TikTokAdsConnection, TikTokAdvertiser
from apps.tiktok_ads.sync import (
    INSIGHTS,
    INSIGHTS_LOOKBACK_DAYS,
    REPORT_ALL_ADS,
    Advertiser,
    active_advertisers,
    fetch_insights,
    report_dates,
)

pytestmark = pytest.mark.django_db

API = "https://business-api.tiktok.com/open_api/v1.3"
REPORT = f"{API}/report/integrated/get/"
TOKEN = "3f9c1e7a0b5d4c2e8f6a1b3c5d7e9f0a2b4c6d8e"
A1, A2 = "7012345678901234567", "7012345678901234568"
SAO_PAULO, TOKYO = "America/Sao_Paulo", "Asia/Tokyo"


@pytest.fixture(autouse=True)
def real_hosts(settings):
    settings.TIKTOK_ADS_API_BASE = "https://business-api.tiktok.com"


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def connection(tenant_a) -> TikTokAdsConnection:
    """Connected, advertisers discovered (assets) but not yet synced into TikTokAdvertiser."""
    return TikTokAdsConnection.objects.create(
        tenant=tenant_a,
        access_token=TOKEN,
        external_user_id=A1,
        assets={
            "advertiser_ids": [A2, A1],
            "advertisers": [
                {"id": A1, "currency": "BRL", "timezone": SAO_PAULO},
                {"id": A2, "currency": "JPY", "timezone": TOKYO},
            ],
        },
    )


def store_advertiser(connection, advertiser_id: str, *, active: bool, currency: str = "USD"):
    return TikTokAdvertiser.objects.create(
        tenant=connection.tenant,
        connection=connection,
        advertiser_id=advertiser_id,
        currency=currency,
        timezone="America/New_York",
        is_active=active,
        synced_at=timezone.now(),
    )


def query_of(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def fixture(name: str) -> dict:
    return load_fixture("tiktok_ads", name)


# --- which days ------------------------------------------------------------------------------


def test_a_scheduled_run_asks_for_the_lookback_in_the_advertisers_time_zone():
    # 01:30 UTC on the 23rd is still the 22nd in Sao Paulo and already the 23rd in Tokyo.
    now = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    unbounded = SyncWindow()

    sao_paulo = report_dates(window=unbounded, advertiser=Advertiser(A1, "BRL", SAO_PAULO), now=now)
    tokyo = report_dates(window=unbounded, advertiser=Advertiser(A2, "JPY", TOKYO), now=now)

    assert INSIGHTS_LOOKBACK_DAYS == 7
    assert sao_paulo == (date(2026, 11, 15), date(2026, 11, 22))
    assert tokyo == (date(2026, 11, 16), date(2026, 11, 23))


def test_an_unknown_time_zone_falls_back_to_utc():
    now = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    dates = report_dates(
        window=SyncWindow(), advertiser=Advertiser(A1, "", "Mars/Olympus"), now=now
    )
    assert dates == (date(2026, 11, 16), date(2026, 11, 23))


def test_a_backfill_is_cut_into_steps_of_at_most_30_days_covering_every_day_once():
    now = timezone.now()
    since = timezone.localdate(now) - timedelta(days=180)
    window = sync_window_for_dates(sync_kind=INSIGHTS, since=since, now=now)

    pieces = window.split(INSIGHTS.window_step)
    spans = [report_dates(window=piece, advertiser=Advertiser(A1)) for piece in pieces]

    assert len(pieces) == 7  # 181 days
    days = [
        start + timedelta(days=n) for start, end in spans for n in range((end - start).days + 1)
    ]
    assert days == [since + timedelta(days=n) for n in range(181)]
    assert max((end - start).days + 1 for start, end in spans) == REPORT_MAX_DAYS_DAILY


def test_a_backfill_reaches_back_three_years_at_most():
    today = timezone.localdate()
    sync_window_for_dates(sync_kind=INSIGHTS, since=today - timedelta(days=3 * 365))
    with pytest.raises(InvalidWindow, match="reaches back"):
        sync_window_for_dates(sync_kind=INSIGHTS, since=today - timedelta(days=3 * 365 + 2))


# --- which advertisers ----------------------------------------------------------------------------


def test_before_the_first_advertisers_sync_every_discovered_advertiser_is_walked(connection):
    assert active_advertisers(connection=connection) == [
        Advertiser(A1, "BRL", SAO_PAULO),
        Advertiser(A2, "JPY", TOKYO),
    ]


def test_once_advertisers_are_stored_only_the_active_ones_are_walked(connection):
    store_advertiser(connection, A1, active=True, currency="USD")
    store_advertiser(connection, A2, active=False)

    assert active_advertisers(connection=connection) == [Advertiser(A1, "USD", "America/New_York")]


def test_with_every_stored_advertiser_switched_off_nothing_is_walked(connection, mocked):
    store_advertiser(connection, A1, active=False)

    page = fetch_insights(connection=connection, cursor={}, window=SyncWindow())

    assert page == Page(items=[], next_cursor=None)
    assert len(mocked.calls) == 0


# --- the cursor -------------------------------------------------------------------------------


def test_a_scheduled_page_asks_for_the_lookback_of_every_deleted_and_live_ad(connection, mocked):
    mocked.get(REPORT, json=fixture("report_integrated_get__daily_page1"))

    page = fetch_insights(connection=connection, cursor={}, window=SyncWindow())

    query = query_of(mocked.calls[0])
    assert query["advertiser_id"] == A1
    today = Advertiser(A1, "BRL", SAO_PAULO).today()
    start = today - timedelta(days=INSIGHTS_LOOKBACK_DAYS)
    assert (query["start_date"], query["end_date"]) == (start.isoformat(), today.isoformat())
    assert query["page_size"] == "1000"
    assert json.loads(query["filtering"]) == list(REPORT_ALL_ADS)
    assert {(item["advertiser_id"], item["currency"]) for item in page.items} == {(A1, "BRL")}
    assert page.total_pages == 2
    assert page.next_cursor == {
        "advertiser": A1,
        "page": 2,
        "start": start.isoformat(),
        "end": today.isoformat(),
    }


def test_later_pages_keep_the_days_the_first_page_asked_for(connection, mocked):
    """A run crossing midnight must not shift the days between pages of one advertiser."""
    mocked.get(REPORT, json=fixture("report_integrated_get__daily_page2"))
    cursor = {"advertiser": A1, "page": 2, "start": "2026-11-13", "end": "2026-11-20"}

    page = fetch_insights(connection=connection, cursor=cursor, window=SyncWindow())

    query = query_of(mocked.calls[0])
    assert (query["start_date"], query["end_date"], query["page"]) == (
        "2026-11-13",
        "2026-11-20",
        "2",
    )
    assert page.next_cursor == {"advertiser": A2, "page": 1}  # A1 done: A2, fresh dates


def test_the_last_page_of_the_last_advertiser_ends_the_window(connection, mocked):
    mocked.get(REPORT, json=fixture("report_integrated_get__no_data"))
    window = SyncWindow(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))

    page = fetch_insights(connection=connection, cursor={"advertiser": A2}, window=window)

    query = query_of(mocked.calls[0])
    assert (query["advertiser_id"], query["start_date"], query["end_date"]) == (
        A2,
        "2026-10-01",
        "2026-10-30",
    )
    assert page.items == [] and page.next_cursor is None


def test_an_advertiser_switched_off_mid_run_is_passed_over(connection, mocked):
    store_advertiser(connection, A1, active=False)
    store_advertiser(connection, A2, active=True)
    mocked.get(REPORT, json=fixture("report_integrated_get__no_data"))

    # The checkpoint pointed at A1's third page; A1 is off now.
    fetch_insights(connection=connection, cursor={"advertiser": A1, "page": 3}, window=SyncWindow())

    query = query_of(mocked.calls[0])
    assert (query["advertiser_id"], query["page"]) == (A2, "1")


def test_a_scheduled_run_stores_the_rows_with_the_advertisers_currency(connection, mocked):
    mocked.get(REPORT, json=fixture("report_integrated_get__daily_page1"))
    mocked.get(REPORT, json=fixture("report_integrated_get__daily_page2"))
    mocked.get(REPORT, json=fixture("report_integrated_get__no_data"))

    run = sync_run_for_connection_now(connection=connection, kind="insights", trigger="schedule")

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert [query_of(c)["advertiser_id"] for c in mocked.calls] == [A1, A1, A2]
    assert run.stats == {"fetched": 5, "created": 5, "updated": 0, "skipped": 0, "errors": 0}
    assert set(TikTokAdInsight.objects.values_list("currency", flat=True)) == {"BRL"}
    spend = sum(TikTokAdInsight.objects.values_list("spend", flat=True), Decimal(0))
    assert spend == Decimal("283.77")


def test_skipped_report_rows_are_counted_not_lost(connection, mocked):
    mocked.get(REPORT, json=fixture("report_integrated_get__irregular_rows"))
    mocked.get(REPORT, json=fixture("report_integrated_get__no_data"))

    run = sync_run_for_connection_now(connection=connection, kind="insights", trigger="manual")

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.stats["fetched"], run.stats["created"], run.stats["skipped"]) == (4, 2, 2)
    assert TikTokAdInsight.objects.count() == 2


# --- query bound ---------------------------------------------------------------------------


def report_rows(count: int, *, day: str = "2026-11-20") -> list[dict]:
    """``count`` report rows shaped like TikTok's (strings, a "-"), as fetch_page stamps them."""
    return [
        {
            "dimensions": {"ad_id": f"18{n:017d}", "stat_time_day": f"{day} 00:00:00"},
            "metrics": {
                "campaign_id": 1801234567800001,
                "adgroup_id": "1791234567800001",
                "spend": f"{n % 500}.{n % 100:02d}",
                "impressions": str(1000 + n),
                "clicks": str(n % 70),
                "conversion": "-" if n % 3 else str(n % 5),
                "ctr": "-" if n % 7 == 0 else "1.18",
                "cpc": "0.29",
                "cpm": "3.43",
            },
            "advertiser_id": A1,
            "currency": "BRL",
        }
        for n in range(count)
    ]


@pytest.fixture
def page_of_rows():
    """A throwaway insights kind whose one page is whatever the test puts in ``rows``."""
    served: dict[str, list[dict]] = {"rows": []}

    def fetch_page(*, connection, cursor, window) -> Page:
        return Page(items=[dict(row) for row in served["rows"]], next_cursor=None, total_pages=1)

    kind = dataclasses.replace(
        INSIGHTS, kind="insights_query_bound", fetch_page=fetch_page, schedule_minutes=None
    )
    sync_kinds.register(kind)
    try:
        yield served
    finally:
        sync_kinds.unregister(kind.product, kind.kind)


def queries_of_one_page(connection, served, rows: list[dict]) -> tuple[int, SyncRun]:
    served["rows"] = rows
    with CaptureQueriesContext(db_connection) as captured:
        run = sync_run_for_connection_now(
            connection=connection, kind="insights_query_bound", trigger="manual"
        )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return len(captured), run


def test_one_synced_insights_page_costs_the_same_queries_for_1000_rows_as_for_10(
    connection, page_of_rows
):
    """Acceptance 4: the query bound of one page does not grow with its rows.

    The whole run is measured (start, claim, the page's upsert and
    checkpoint, finish). It is meant to break when someone adds a query per
    row; change the expected numbers consciously.
    """
    small, small_run = queries_of_one_page(
        connection, page_of_rows, report_rows(10, day="2026-11-01")
    )
    large, large_run = queries_of_one_page(connection, page_of_rows, report_rows(1000))
    assert small_run.stats["created"] == 10
    assert large_run.stats["created"] == 1000
    assert small == large

    # The same page again: every row exists, every row is updated, same cost.
    again, again_run = queries_of_one_page(connection, page_of_rows, report_rows(1000))
    assert (again_run.stats["created"], again_run.stats["updated"]) == (0, 1000)
    assert again == large
    assert large == EXPECTED_QUERIES[db_connection.vendor]
    assert TikTokAdInsight.objects.count() == 1010


# Queries of a whole one-page run, savepoints included: sync_run_start (stale
# runs, last high-water mark, insert), execute (claim, reload, connection,
# resume lookup), the page (bulk upsert: SQLite one key count + one
# executemany, PostgreSQL temporary table + COPY + INSERT + drop; checkpoint),
# the finish (run, connection) and the final reload.
EXPECTED_QUERIES = {"sqlite": 19, "postgresql": 21}


def test_the_real_fetch_page_costs_the_same_queries_for_1000_rows_as_for_10(
    connection, mocked, monkeypatch
):
    """Through the client too: one advertiser lookup and one call-log row per page.

    The app's rate budget is switched off: its cache writes depend on the
    clock (a new second, a new key), not on the page.
    """
    monkeypatch.setattr(TikTokAdsClient, "rate_limit", None)
    counts = []
    for count in (10, 1000):
        body = {
            "code": 0,
            "message": "OK",
            "request_id": f"req-{count}",
            "data": {
                "list": [
                    {
                        key: value
                        for key, value in row.items()
                        if key not in ("advertiser_id", "currency")
                    }
                    for row in report_rows(count)
                ],
                "page_info": {"page": 1, "page_size": 1000, "total_number": count, "total_page": 1},
            },
        }
        mocked.get(REPORT, json=body)
        with CaptureQueriesContext(db_connection) as captured:
            page = fetch_insights(
                connection=connection, cursor={"advertiser": A2}, window=SyncWindow()
            )
            rows = INSIGHTS.to_rows(
                connection=connection, items=page.items, synced_at=timezone.now()
            )
        assert len(rows.rows) == count
        counts.append(len(captured))
    assert counts[0] == counts[1]
