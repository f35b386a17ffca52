"""TikTok Ads ``report/integrated/get/``: spans, string metrics, history, restatement, paging."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.sandbox import generator

from .flows import ads_auth_code, first

API = f"{settings.TIKTOK_ADS_API_BASE}/open_api/v1.3"
FROZEN = datetime(2026, 6, 15, 15, 30, tzinfo=UTC)
METRICS = ["spend", "impressions", "clicks", "conversion", "ctr", "cpc", "cpm", "currency"]


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        moment = FROZEN

    monkeypatch.setattr(generator, "now", lambda: Clock.moment)
    return Clock


@pytest.fixture
def token(client, sandbox) -> str:
    body = {
        "app_id": settings.TIKTOK_APP_ID,
        "secret": settings.TIKTOK_APP_SECRET,
        "auth_code": ads_auth_code(client),
    }
    return requests.post(f"{API}/oauth2/access_token/", json=body, timeout=5).json()["data"][
        "access_token"
    ]


@pytest.fixture
def advertiser_id() -> str:
    return generator.advertisers(first("tiktok_ads").account_id)[0]["advertiser_id"]


def report(token: str, advertiser_id: str, start: date, end: date, **params) -> dict:
    query = {
        "advertiser_id": advertiser_id,
        "report_type": "BASIC",
        "data_level": "AUCTION_AD",
        "dimensions": ["ad_id", "stat_time_day"],
        "metrics": METRICS,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "page_size": 1000,
        **params,
    }
    query = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in query.items()}
    response = requests.get(
        f"{API}/report/integrated/get/", params=query, headers={"Access-Token": token}, timeout=10
    )
    assert response.status_code == 200
    return response.json()


def all_rows(token: str, advertiser_id: str, start: date, end: date, **params) -> list[dict]:
    rows, page = [], 1
    while True:
        answer = report(token, advertiser_id, start, end, page=page, **params)
        assert answer["code"] == 0, answer
        rows += answer["data"]["list"]
        if page >= answer["data"]["page_info"]["total_page"]:
            return rows
        page += 1


def keyed(rows: list[dict], dimension: str = "ad_id") -> dict[tuple[str, str], dict]:
    return {
        (r["dimensions"][dimension], r["dimensions"]["stat_time_day"]): r["metrics"] for r in rows
    }


def test_span_over_30_days_with_stat_time_day_is_40002(token, advertiser_id, clock):
    today = generator.report_today(advertiser_id)
    too_long = report(token, advertiser_id, today - timedelta(days=30), today)
    assert too_long["code"] == 40002
    assert "31 days" in too_long["message"]
    assert "at most 30 days" in too_long["message"]
    assert too_long["request_id"]
    assert report(token, advertiser_id, today - timedelta(days=29), today)["code"] == 0
    # Without a time dimension the limit is 365 days.
    whole = report(
        token, advertiser_id, today - timedelta(days=60), today, dimensions=["ad_id"], page_size=5
    )
    assert whole["code"] == 0, whole


def test_rows_have_string_metrics_and_dash_where_a_ratio_has_no_base(token, advertiser_id, clock):
    today = generator.report_today(advertiser_id)
    rows = all_rows(token, advertiser_id, today - timedelta(days=20), today - timedelta(days=5))
    assert len(rows) > 1000
    dashes = 0
    for row in rows:
        assert set(row["dimensions"]) == {"ad_id", "stat_time_day"}
        assert row["dimensions"]["stat_time_day"].endswith(" 00:00:00")
        metrics = row["metrics"]
        assert list(metrics) == METRICS
        assert all(isinstance(v, str) for v in metrics.values())
        assert metrics["currency"] == "USD"
        assert float(metrics["spend"]) > 0  # days without spend have no row
        clicks, impressions = int(metrics["clicks"]), int(metrics["impressions"])
        assert f"{clicks / impressions * 100:.2f}" == metrics["ctr"]
        if clicks == 0:
            assert metrics["cpc"] == "-"
            dashes += 1
        else:
            assert metrics["cpc"] == f"{float(metrics['spend']) / clicks:.2f}"
    assert dashes > 0


def test_180_days_of_history_and_day_181_is_empty(token, advertiser_id, clock):
    today = generator.report_today(advertiser_id)
    oldest = today - timedelta(days=generator.HISTORY_DAYS - 1)
    kept = report(token, advertiser_id, oldest, oldest)
    assert kept["code"] == 0
    assert kept["data"]["page_info"]["total_number"] > 0
    assert {r["dimensions"]["stat_time_day"] for r in kept["data"]["list"]} == {
        f"{oldest} 00:00:00"
    }
    gone = report(token, advertiser_id, oldest - timedelta(days=1), oldest - timedelta(days=1))
    assert gone["code"] == 0
    assert gone["data"]["list"] == []
    assert gone["data"]["page_info"]["total_number"] == 0
    future = report(token, advertiser_id, today + timedelta(days=1), today + timedelta(days=5))
    assert future["data"]["page_info"]["total_number"] == 0


def test_recent_days_are_restated_when_the_date_changes(token, advertiser_id, clock):
    today = generator.report_today(advertiser_id)
    start = today - timedelta(days=8)
    before = keyed(all_rows(token, advertiser_id, start, today))
    assert keyed(all_rows(token, advertiser_id, start, today)) == before  # same day: same answer

    clock.moment = FROZEN + timedelta(days=1)
    after = keyed(all_rows(token, advertiser_id, start, today))

    def on(rows: dict, day: date) -> dict:
        return {key: value for key, value in rows.items() if key[1] == f"{day} 00:00:00"}

    for age in range(generator.RESTATED_DAYS, 9):
        day = today - timedelta(days=age)
        assert on(after, day) == on(before, day), f"{day} is settled and must not move"
    for age in range(generator.RESTATED_DAYS):
        day = today - timedelta(days=age)
        moved = [key for key, value in on(before, day).items() if after.get(key) != value]
        assert moved, f"{day} is within the restatement window and must move"
    yesterday = on(before, today - timedelta(days=1))
    grown = [
        k
        for k, v in yesterday.items()
        if k in after and float(after[k]["spend"]) > float(v["spend"])
    ]
    assert len(grown) > len(yesterday) / 2  # maturing: later pulls report more


def test_report_pagination_totals_are_consistent(token, advertiser_id, clock):
    today = generator.report_today(advertiser_id)
    start = today - timedelta(days=29)
    infos, rows, page = [], [], 1
    while True:
        answer = report(token, advertiser_id, start, today, page=page, page_size=700)
        infos.append(answer["data"]["page_info"])
        rows += answer["data"]["list"]
        if page >= answer["data"]["page_info"]["total_page"]:
            break
        page += 1
    total = infos[0]["total_number"]
    assert total > 10_000
    assert {i["total_number"] for i in infos} == {total}
    assert len(rows) == total
    assert len(keyed(rows)) == total
    assert keyed(rows) == keyed(all_rows(token, advertiser_id, start, today))
    assert report(token, advertiser_id, start, today, page_size=1001)["code"] == 40002


def test_campaign_rows_are_the_sum_of_their_ads(token, advertiser_id, clock):
    today = generator.report_today(advertiser_id)
    day = today - timedelta(days=10)
    everything = [
        {"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}
    ]
    ads = all_rows(token, advertiser_id, day, day, filtering=everything)
    campaigns = all_rows(
        token,
        advertiser_id,
        day,
        day,
        data_level="AUCTION_CAMPAIGN",
        dimensions=["campaign_id", "stat_time_day"],
        metrics=["spend", "clicks"],
        filtering=[
            {"field_name": "campaign_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}
        ],
    )
    campaign_of = {a["ad_id"]: a["campaign_id"] for a in generator.ads(advertiser_id)}
    spend: dict[str, int] = {}
    for row in ads:
        campaign_id = campaign_of[row["dimensions"]["ad_id"]]
        spend[campaign_id] = spend.get(campaign_id, 0) + round(float(row["metrics"]["spend"]) * 100)
    assert {
        r["dimensions"]["campaign_id"]: round(float(r["metrics"]["spend"]) * 100) for r in campaigns
    } == spend


def test_deleted_objects_rows_only_with_status_all(token, advertiser_id, clock):
    today = generator.report_today(advertiser_id)
    start = today - timedelta(days=29)
    deleted = {a["ad_id"] for a in generator.ads(advertiser_id) if generator.is_deleted("ad", a)}
    default = {r["dimensions"]["ad_id"] for r in all_rows(token, advertiser_id, start, today)}
    assert not default & deleted
    everything = [
        {"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}
    ]
    shown = all_rows(token, advertiser_id, start, today, filtering=everything)
    assert {r["dimensions"]["ad_id"] for r in shown} & deleted


def test_filtering_by_campaign_ids(token, advertiser_id, clock):
    today = generator.report_today(advertiser_id)
    wanted = [c["campaign_id"] for c in generator.campaigns(advertiser_id)[:5]]
    filtering = [
        {"field_name": "campaign_ids", "filter_type": "IN", "filter_value": json.dumps(wanted)}
    ]
    rows = all_rows(token, advertiser_id, today - timedelta(days=29), today, filtering=filtering)
    campaign_of = {a["ad_id"]: a["campaign_id"] for a in generator.ads(advertiser_id)}
    assert rows
    assert {campaign_of[r["dimensions"]["ad_id"]] for r in rows} <= set(wanted)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"report_type": "AUDIENCE"}, "BASIC"),
        ({"data_level": "AUCTION_KEYWORD"}, "data_level"),
        ({"dimensions": ["campaign_id", "stat_time_day"]}, "ad_id"),
        ({"dimensions": ["ad_id", "stat_time_hour"]}, "stat_time_day"),
        ({"dimensions": ["ad_id", "country_code"]}, "country_code"),
        ({"metrics": ["spend", "magic"]}, "magic"),
        ({"metrics": ["campaign_budget"]}, "campaign_budget"),
        ({"start_date": "2026/06/01"}, "YYYY-MM-DD"),
        ({"filtering": [{"field_name": "objective_type", "filter_value": "[]"}]}, "objective_type"),
        ({"query_lifetime": "true"}, "query_lifetime"),
    ],
)
def test_bad_report_parameters_are_40002(token, advertiser_id, clock, change, words):
    today = generator.report_today(advertiser_id)
    answer = report(token, advertiser_id, today - timedelta(days=3), today, **change)
    assert answer["code"] == 40002, answer
    assert words in answer["message"]


def test_lifetime_totals_and_other_levels(token, advertiser_id, clock):
    answer = report(
        token,
        advertiser_id,
        FROZEN.date(),
        FROZEN.date(),
        data_level="AUCTION_ADVERTISER",
        dimensions=["advertiser_id"],
        query_lifetime="true",
        enable_total_metrics="true",
        metrics=["spend", "impressions", "cpc"],
    )
    assert answer["code"] == 0, answer
    [row] = answer["data"]["list"]
    assert row["dimensions"] == {"advertiser_id": advertiser_id}
    assert answer["data"]["total_metrics"] == row["metrics"]
    groups = report(
        token,
        advertiser_id,
        FROZEN.date() - timedelta(days=6),
        FROZEN.date(),
        data_level="AUCTION_ADGROUP",
        dimensions=["stat_time_day", "adgroup_id"],
        metrics=["spend", "adgroup_name", "campaign_name"],
        page_size=3,
    )
    assert groups["code"] == 0, groups
    assert all(r["metrics"]["adgroup_name"] for r in groups["data"]["list"])


def test_a_full_page_costs_no_query_per_row(token, advertiser_id, clock):
    """Two queries of the sandbox's own tables per call, whatever the page size.

    The token lookup and the status/budget overrides; the fault hook's cache
    bookkeeping (cache backend dependent) is left out of the count.
    """
    today = generator.report_today(advertiser_id)
    with CaptureQueriesContext(connection) as small:
        report(token, advertiser_id, today, today, page_size=1)
    with CaptureQueriesContext(connection) as full:
        answer = report(token, advertiser_id, today - timedelta(days=29), today)
    assert len(answer["data"]["list"]) == 1000

    def own(context: CaptureQueriesContext) -> list[str]:
        return [q["sql"] for q in context.captured_queries if '"sandbox_' in q["sql"]]

    assert len(own(full)) == len(own(small)) == 2
