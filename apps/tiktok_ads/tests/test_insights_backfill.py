"""Acceptance 3: a 180-day insights backfill through the sandbox, then the same again.

``manage.py backfill tiktok_ads insights --tenant T --since <180 days ago>``
must finish, show its progress, store exactly the sandbox's report rows (one
per ad and day with delivery, deleted ads included), and a second identical
run must create nothing and report every row as updated.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from apps.integrations.models import SyncRun
from apps.sandbox import generator
from apps.tiktok_ads.client import REPORT_METRICS
from apps.tiktok_ads.models import TikTokAdInsight, TikTokAdvertiser

from .test_contract import AdsContract

pytestmark = pytest.mark.django_db

REPORT = "/open_api/v1.3/report/integrated/get/"
DAYS = 180


@pytest.fixture
def noon_in_the_sandbox(monkeypatch):
    """The sandbox clock at noon UTC of our today: every advertiser's today is our today.

    Without it, an advertiser east of UTC would already be in tomorrow late in
    the UTC day, a day a backfill (which cannot reach past today) cannot ask for.
    """
    noon = datetime.combine(timezone.localdate(), time(12), tzinfo=UTC)
    monkeypatch.setattr(generator, "now", lambda: noon)


@pytest.fixture
def ads_connection(owner_client, sandbox, noon_in_the_sandbox):
    conn, _ = AdsContract().connect(owner_client)
    # Connecting queues a first run of every kind; in a test its task never runs
    # (on_commit), and a queued insights run would make the backfill wait for it.
    SyncRun.objects.filter(connection_id=conn.pk, status=SyncRun.Status.QUEUED).delete()
    # One active advertiser keeps the suite quick (about 100k rows twice through the
    # in-process sandbox); bench/bench_insights.py runs both over real HTTP.
    others = conn.assets["advertiser_ids"][1:]
    TikTokAdvertiser.objects.filter(tenant=conn.tenant, advertiser_id__in=others).update(
        is_active=False
    )
    return conn


def active_advertisers(connection) -> list[str]:
    return list(
        TikTokAdvertiser.objects.filter(tenant=connection.tenant, is_active=True)
        .order_by("advertiser_id")
        .values_list("advertiser_id", flat=True)
    )


def sandbox_report(advertiser_ids: list[str]) -> dict[tuple[str, str], dict]:
    """Every daily ad row the sandbox holds, keyed (ad_id, day): its whole history.

    Each row's metrics, plus the currency of its advertiser.
    """
    rows = {}
    for advertiser_id in advertiser_ids:
        currency = generator.advertiser(advertiser_id)["currency"]
        today = generator.report_today(advertiser_id)
        page = generator.report(
            generator.ReportQuery(
                advertiser_id=advertiser_id,
                data_level="AUCTION_AD",
                by_day=True,
                start=today - timedelta(days=generator.HISTORY_DAYS - 1),
                end=today,
                metrics=REPORT_METRICS,
                allowed=frozenset(ad["ad_id"] for ad in generator.ads(advertiser_id)),
                page_size=10**7,
            )
        )
        for row in page.rows:
            key = (row["dimensions"]["ad_id"], row["dimensions"]["stat_time_day"][:10])
            rows[key] = {**row["metrics"], "currency": currency}
    return rows


def backfill(slug: str, since: str) -> str:
    out = StringIO()
    call_command(
        "backfill", "tiktok_ads", "insights", "--tenant", slug, "--since", since, stdout=out
    )
    return out.getvalue()


def test_a_180_day_backfill_stores_exactly_the_sandboxs_rows_and_a_rerun_duplicates_nothing(
    ads_connection, sandbox
):
    slug = ads_connection.tenant.slug
    since = (timezone.localdate() - timedelta(days=DAYS)).isoformat()
    active = active_advertisers(ads_connection)
    assert len(active) == 1
    expected = sandbox_report(active)
    assert len(expected) > 10_000  # a real-sized history, many pages

    output = backfill(slug, since)

    assert f"{DAYS + 1} day(s) in 7 windows of 30 day(s)" in output
    assert "window 7/7" in output
    assert "[##########] page" in output  # the progress bar reaches the end of a walk
    first = SyncRun.objects.get(kind="insights", trigger="backfill")
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    assert first.stats == {
        "fetched": len(expected),
        "created": len(expected),
        "updated": 0,
        "skipped": 0,
        "errors": 0,
    }
    stored = {
        (row["ad_id"], row["date"].isoformat()): row
        for row in TikTokAdInsight.objects.values(
            "ad_id",
            "date",
            "campaign_id",
            "adgroup_id",
            "spend",
            "impressions",
            "clicks",
            "conversions",
            "ctr",
            "currency",
        )
    }
    assert stored.keys() == expected.keys()
    for key, metrics in expected.items():
        row = stored[key]
        assert row["spend"] == Decimal(metrics["spend"])
        assert row["impressions"] == int(metrics["impressions"])
        assert row["clicks"] == int(metrics["clicks"])
        assert row["conversions"] == int(metrics["conversion"])
        assert row["ctr"] == (None if metrics["ctr"] == "-" else Decimal(metrics["ctr"]))
        assert (row["campaign_id"], row["adgroup_id"]) == (
            metrics["campaign_id"],
            metrics["adgroup_id"],
        )
        assert row["currency"] == metrics["currency"]
    deleted_ads = {
        ad["ad_id"]
        for a in active
        for ad in generator.ads(a)
        if generator.is_deleted(generator.AD, ad)
    }
    assert deleted_ads & {ad_id for ad_id, _ in stored}, "deleted ads' spend is kept"
    calls = sandbox.calls(REPORT)

    again = backfill(slug, since)

    second = SyncRun.objects.filter(kind="insights", trigger="backfill").latest("pk")
    assert second.pk != first.pk
    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert (second.stats["created"], second.stats["updated"]) == (0, len(expected))
    assert f"created=0 updated={len(expected)}" in again
    assert sandbox.calls(REPORT) == 2 * calls  # the same walk again, nothing resumed
    assert TikTokAdInsight.objects.count() == len(expected)
    duplicates = (
        TikTokAdInsight.objects.values("tenant", "ad_id", "date")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()
