"""Row conversion of every TikTok Ads sync kind, from the endpoint fixtures.

No database and no HTTP: ``to_rows`` only reads the records and the
connection's ids. Report metrics get the most attention: strings, numbers,
``"-"``, nulls, missing fields, garbage.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from apps.integrations.testing import load_fixture
from apps.tiktok_ads.models import TikTokAdsConnection
from apps.tiktok_ads.sync import (
    ad_rows,
    adgroup_rows,
    advertiser_rows,
    audience_rows,
    campaign_rows,
    insight_rows,
    pixel_rows,
)

A1 = "7012345678901234567"
SYNCED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CONNECTION = TikTokAdsConnection(pk=41, tenant_id=7)


def data(name: str) -> dict:
    return load_fixture("tiktok_ads", name)["data"]


def convert(to_rows, items: list[dict]):
    return to_rows(connection=CONNECTION, items=items, synced_at=SYNCED_AT)


def report_items(name: str, *, currency: str = "BRL") -> list[dict]:
    """Report rows as ``fetch_insights`` hands them on: stamped with advertiser and currency."""
    return [{**row, "advertiser_id": A1, "currency": currency} for row in data(name)["list"]]


# --- insights ------------------------------------------------------------------------------


def test_report_strings_become_decimals_and_counts():
    rows = convert(insight_rows, report_items("report_integrated_get__daily_page1")).rows

    first = rows[0]
    assert first == {
        "tenant_id": 7,
        "connection_id": 41,
        "advertiser_id": A1,
        "campaign_id": "1801234567800001",  # a number inside metrics
        "adgroup_id": "1791234567800001",
        "ad_id": "1801234567890001",
        "date": date(2026, 11, 20),
        "currency": "BRL",
        "spend": Decimal("20.00"),
        "impressions": 5830,
        "clicks": 69,
        "conversions": 4,
        "ctr": Decimal("1.1800"),  # TikTok's percentage, as given
        "cpc": Decimal("0.2900"),
        "cpm": Decimal("3.4300"),
        "synced_at": SYNCED_AT,
    }


def test_a_dash_means_nothing_to_report_zero_for_counts_null_for_ratios():
    rows = convert(insight_rows, report_items("report_integrated_get__daily_page1")).rows

    idle_day = rows[1]
    assert idle_day["date"] == date(2026, 11, 21)
    assert idle_day["spend"] == Decimal("0.00")
    assert (idle_day["impressions"], idle_day["clicks"], idle_day["conversions"]) == (0, 0, 0)
    assert (idle_day["ctr"], idle_day["cpc"], idle_day["cpm"]) == (None, None, None)

    second_page = convert(insight_rows, report_items("report_integrated_get__daily_page2")).rows
    assert second_page[0]["conversions"] == 0  # "conversion": "-"
    assert second_page[0]["spend"] == Decimal("98.10")


def test_counts_given_as_numbers_are_read_as_is():
    rows = convert(insight_rows, report_items("report_integrated_get__daily_page1")).rows

    assert (rows[2]["impressions"], rows[2]["clicks"], rows[2]["conversions"]) == (48211, 702, 31)
    assert rows[2]["campaign_id"] == "1801234567800001"  # the same id given as a string


def test_missing_metrics_nulls_and_blanks_are_nothing_to_report_and_unkeyable_rows_are_skipped():
    converted = convert(insight_rows, report_items("report_integrated_get__irregular_rows"))

    no_metrics, nulls = converted.rows
    assert no_metrics["ad_id"] == "1801234567890004"
    assert no_metrics["spend"] == Decimal("0.00")
    assert (no_metrics["impressions"], no_metrics["ctr"]) == (0, None)
    assert (no_metrics["campaign_id"], no_metrics["adgroup_id"]) == ("", "")
    assert nulls["date"] == date(2026, 11, 20)  # "2026-11-20", without the time
    assert (nulls["spend"], nulls["clicks"], nulls["conversions"]) == (Decimal("0.00"), 0, 0)
    assert (nulls["ctr"], nulls["cpc"], nulls["cpm"]) == (None, None, None)
    assert [skip.reason for skip in converted.skipped] == [
        "no ad_id",
        "stat_time_day None is not a day",
    ]


def test_every_record_is_a_row_or_a_skip():
    items = report_items("report_integrated_get__irregular_rows")
    converted = convert(insight_rows, items)
    assert len(converted.rows) + len(converted.skipped) == len(items)


@pytest.mark.parametrize(
    ("metric", "value", "reason"),
    [
        ("spend", "twelve", "spend is not a number: 'twelve'"),
        ("impressions", "1e400x", "impressions is not a number"),
        ("clicks", {"value": 3}, "clicks is not a number"),
        ("ctr", "123456.0", "ctr is not a number: '123456.0' is out of range"),
        ("spend", "Infinity", "spend is not a number"),
    ],
)
def test_a_metric_that_is_not_a_number_skips_the_row_with_the_reason(metric, value, reason):
    item = copy.deepcopy(report_items("report_integrated_get__daily_page1")[0])
    item["metrics"][metric] = value

    converted = convert(insight_rows, [item])

    assert converted.rows == []
    assert len(converted.skipped) == 1
    assert converted.skipped[0].reason.startswith(reason)
    assert "1801234567890001" in converted.skipped[0].item  # names the ad and day


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1234", 1234), (1234, 1234), ("1234.0", 1234), (1234.0, 1234), (" 7 ", 7), ("-", 0)],
)
def test_counts_accept_the_shapes_tiktok_uses(value, expected):
    item = copy.deepcopy(report_items("report_integrated_get__daily_page1")[0])
    item["metrics"]["impressions"] = value
    assert convert(insight_rows, [item]).rows[0]["impressions"] == expected


def test_ids_given_as_floats_keep_every_digit_they_have():
    item = copy.deepcopy(report_items("report_integrated_get__daily_page1")[0])
    item["metrics"]["campaign_id"] = 1714125042508817.0
    assert convert(insight_rows, [item]).rows[0]["campaign_id"] == "1714125042508817"


def test_the_currency_comes_from_the_advertiser_stamp():
    rows = convert(
        insight_rows, report_items("report_integrated_get__daily_page1", currency="USD")
    ).rows
    assert {row["currency"] for row in rows} == {"USD"}


def test_a_report_row_without_its_advertiser_stamp_is_skipped():
    item = copy.deepcopy(data("report_integrated_get__daily_page1")["list"][0])
    converted = convert(insight_rows, [item])
    assert converted.rows == []
    assert converted.skipped[0].reason == "no advertiser_id"


# --- objects -------------------------------------------------------------------------------


def test_advertiser_rows_never_carry_is_active():
    reach = {row["advertiser_id"]: row for row in data("oauth2_advertiser_get__success")["list"]}
    items = [
        {**reach[row["advertiser_id"]], **row} for row in data("advertiser_info__success")["list"]
    ]

    rows = convert(advertiser_rows, items).rows

    assert [
        (r["advertiser_id"], r["name"], r["currency"], r["timezone"], r["status"]) for r in rows
    ] == [
        (A1, "Acme Shoes BR", "BRL", "America/Sao_Paulo", "STATUS_ENABLE"),
        ("7012345678901234568", "Acme Shoes US", "USD", "America/New_York", "STATUS_LIMIT"),
    ]
    assert all("is_active" not in row for row in rows)


def test_pixel_rows_never_carry_the_conversion_pixel_choice():
    items = [{**p, "advertiser_id": A1} for p in data("pixel_list__success")["pixels"]]

    rows = convert(pixel_rows, items).rows

    assert (rows[0]["pixel_id"], rows[0]["pixel_code"], rows[0]["name"]) == (
        "7101234567890123401",
        "CB9N1C3RC77U0EEQTPV0",
        "Acme store pixel 1",
    )
    assert {r["advertiser_id"] for r in rows} == {A1}
    assert all("is_conversion_pixel" not in row for row in rows)


def test_campaign_rows_parse_budget_and_times():
    rows = convert(campaign_rows, data("campaign_get__page1")["list"]).rows
    assert rows[0]["budget"] == Decimal("500.00")
    assert rows[0]["provider_modified_at"] == datetime(2026, 11, 20, 8, 30, 15, tzinfo=UTC)


def test_adgroup_rows_keep_deleted_ones_and_blank_pixels():
    items = data("adgroup_get__page1")["list"] + data("adgroup_get__page2")["list"]

    rows = convert(adgroup_rows, items).rows

    assert [r["adgroup_id"] for r in rows] == [
        "1791234567800001",
        "1791234567800002",
        "1791234567800003",
    ]
    assert rows[0]["budget"] == Decimal("150.00")
    assert rows[1]["budget"] == Decimal("80.50")
    assert rows[0]["pixel_id"] == "7101234567890123456"
    assert rows[2]["pixel_id"] == ""
    assert rows[2]["secondary_status"] == "ADGROUP_STATUS_DELETE"
    assert rows[2]["campaign_id"] == "1801234567800002"
    assert rows[0]["provider_created_at"] == datetime(2026, 10, 1, 12, 5, tzinfo=UTC)
    assert rows[0]["raw"]["optimization_event"] == "SHOPPING"


def test_ad_rows_keep_urls_that_fit_and_blank_the_ones_that_do_not():
    items = copy.deepcopy(data("ad_get__page1")["list"])
    items[1]["landing_page_url"] = "https://shop.acme.example/?" + "x" * 1000

    rows = convert(ad_rows, items).rows

    assert rows[0]["landing_page_url"].startswith("https://shop.acme.example/black-friday")
    assert rows[1]["landing_page_url"] == ""  # a cut URL would lead elsewhere
    assert rows[1]["raw"]["landing_page_url"].endswith("x")  # the full one is kept
    assert rows[1]["secondary_status"] == "AD_STATUS_DELETE"
    assert (rows[0]["campaign_id"], rows[0]["adgroup_id"]) == (
        "1801234567800001",
        "1791234567800001",
    )


def test_audience_rows_read_sizes_and_sharing():
    items = [{**a, "advertiser_id": A1} for a in data("custom_audience_list__page1")["list"]]

    rows = convert(audience_rows, items).rows

    assert [(r["audience_id"], r["cover_num"], r["is_shared"]) for r in rows] == [
        ("123456789", 182340, False),
        ("123456790", None, True),
    ]


@pytest.mark.parametrize(
    ("to_rows", "id_field"),
    [
        (advertiser_rows, "advertiser_id"),
        (pixel_rows, "pixel_id"),
        (campaign_rows, "campaign_id"),
        (adgroup_rows, "adgroup_id"),
        (ad_rows, "ad_id"),
        (audience_rows, "audience_id"),
    ],
)
def test_records_without_an_id_or_with_an_impossible_one_are_skipped_with_a_reason(
    to_rows, id_field
):
    converted = convert(
        to_rows,
        [{"advertiser_id": A1, id_field: None}, {"advertiser_id": A1, id_field: "9" * 40}],
    )
    assert converted.rows == []
    assert converted.skipped[0].reason == f"no {id_field}"
    assert "longer than 32" in converted.skipped[1].reason
