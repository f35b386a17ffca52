"""The profile and videos sync kinds through the shared runner, against real-shaped fixtures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from responses import matchers

from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_kinds, sync_run_for_connection_now
from apps.integrations.testing import load_fixture
from apps.tiktok_content import sync as content_sync
from apps.tiktok_content.models import (
    TikTokContentConnection,
    TikTokCreatorProfile,
    TikTokVideo,
    TikTokVideoDailySnapshot,
)

from .conftest import API, APP, make_connection

pytestmark = pytest.mark.django_db

VIDEO_LIST_URL = f"{API}/v2/video/list/"
USER_INFO_URL = f"{API}/v2/user/info/"
TOKEN_URL = f"{API}/v2/oauth/token/"


def run(connection, kind: str, **kwargs) -> SyncRun:
    return sync_run_for_connection_now(connection=connection, kind=kind, trigger="manual", **kwargs)


def two_pages(mocked) -> None:
    mocked.post(VIDEO_LIST_URL, json=load_fixture(APP, "video_list__page1"))
    mocked.post(VIDEO_LIST_URL, json=load_fixture(APP, "video_list__page2"))


def cursor_of(call) -> int | None:
    return json.loads(call.request.body).get("cursor")


def test_both_kinds_are_registered_and_scheduled_every_few_hours():
    kinds = {k.kind: k for k in sync_kinds.for_product("tiktok_content")}
    assert set(kinds) == {"profile", "videos"}
    assert all(120 <= k.schedule_minutes <= 360 for k in kinds.values())
    assert kinds["videos"].unique_fields == ("connection", "video_id")


def test_videos_sync_walks_every_page_and_stores_counts(mocked, connection):
    two_pages(mocked)

    result = run(connection, "videos")

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert result.stats == {"fetched": 5, "created": 5, "updated": 0, "skipped": 0, "errors": 0}
    assert [cursor_of(c) for c in mocked.calls] == [None, 1794657600000]
    query = parse_qs(urlsplit(mocked.calls[0].request.url).query)
    assert query["fields"][0].split(",") == list(content_sync.VIDEO_FIELDS)
    video = TikTokVideo.objects.get(video_id="7437650321947282719")
    assert (video.view_count, video.like_count, video.comment_count, video.share_count) == (
        128403,
        10452,
        391,
        288,
    )
    assert video.title == "Lemon pasta in 30 seconds"
    assert video.duration == 31
    assert video.provider_created_at == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # 1795003200
    assert video.share_url == "https://www.tiktok.com/@ana.creates/video/7437650321947282719"
    assert video.cover_image_url.startswith("https://p16-sign.tiktokcdn-us.com/")
    assert video.tenant_id == connection.tenant_id
    untitled = TikTokVideo.objects.get(video_id="7429999999999999999")
    assert untitled.title == ""
    assert str(untitled) == " #fyp #recipe"  # no title: the description stands in


def test_each_synced_video_gets_todays_snapshot(mocked, connection):
    two_pages(mocked)

    run(connection, "videos")

    today = timezone.localdate()
    snapshots = TikTokVideoDailySnapshot.objects.select_related("video")
    assert snapshots.count() == 5
    assert {s.date for s in snapshots} == {today}
    by_id = {s.video.video_id: s for s in snapshots}
    assert by_id["7436112098765432101"].view_count == 56021
    assert by_id["7436112098765432101"].tenant_id == connection.tenant_id


def test_a_second_sync_the_same_day_updates_the_snapshot_and_the_next_day_adds_one(
    mocked, connection, monkeypatch
):
    two_pages(mocked)
    run(connection, "videos")
    grown = load_fixture(APP, "video_list__page1")
    grown["data"]["videos"][0]["view_count"] = 130000
    mocked.post(VIDEO_LIST_URL, json=grown)
    mocked.post(VIDEO_LIST_URL, json=load_fixture(APP, "video_list__page2"))

    result = run(connection, "videos")

    assert result.stats["created"] == 0 and result.stats["updated"] == 5
    assert TikTokVideoDailySnapshot.objects.count() == 5
    snap = TikTokVideoDailySnapshot.objects.get(video__video_id="7437650321947282719")
    assert snap.view_count == 130000

    tomorrow = timezone.localdate() + timedelta(days=1)
    monkeypatch.setattr(content_sync, "timezone", SimpleNamespace(localdate=lambda *_: tomorrow))
    mocked.post(VIDEO_LIST_URL, json=grown)
    mocked.post(VIDEO_LIST_URL, json=load_fixture(APP, "video_list__page2"))
    run(connection, "videos")

    assert TikTokVideoDailySnapshot.objects.count() == 10
    assert TikTokVideoDailySnapshot.objects.filter(date=tomorrow).count() == 5
    assert TikTokVideo.objects.count() == 5  # one row per video, whatever the days


def test_a_page_costs_a_fixed_number_of_queries_whatever_its_size(mocked, connection):
    """No per-row query: the page's videos and snapshots are each one bulk upsert."""
    small = load_fixture(APP, "video_list__page2")
    big = load_fixture(APP, "video_list__page2")
    template = big["data"]["videos"][0]
    big["data"]["videos"] = [{**template, "id": f"74300000000000{n:05d}"} for n in range(20)]
    mocked.post(VIDEO_LIST_URL, json=small)
    with CaptureQueriesContext(db) as small_run:
        run(connection, "videos")
    mocked.post(VIDEO_LIST_URL, json=big)
    with CaptureQueriesContext(db) as big_run:
        run(connection, "videos")

    assert len(big_run.captured_queries) == len(small_run.captured_queries)


def test_without_video_list_the_sync_asks_nothing_and_ends_empty(mocked, tenant_a):
    connection = make_connection(tenant_a, scopes=["user.info.basic", "video.publish"])

    result = run(connection, "videos")

    assert result.status == SyncRun.Status.SUCCEEDED
    assert result.stats["fetched"] == 0
    assert len(mocked.calls) == 0


def test_an_expired_token_mid_sync_is_refreshed_once_and_the_sync_finishes(mocked, connection):
    mocked.post(
        VIDEO_LIST_URL,
        json=load_fixture(APP, "video_list__page1"),
        match=[matchers.header_matcher({"Authorization": "Bearer act.old-access-token"})],
    )
    mocked.post(
        VIDEO_LIST_URL,
        status=401,
        json=load_fixture(APP, "video_list__access_token_invalid"),
        match=[matchers.header_matcher({"Authorization": "Bearer act.old-access-token"})],
    )
    mocked.post(TOKEN_URL, json=load_fixture(APP, "oauth_token__refresh_rotated"))
    rotated = "act.example9876543210rotatedaccesstokenExample"
    mocked.post(
        VIDEO_LIST_URL,
        json=load_fixture(APP, "video_list__page2"),
        match=[matchers.header_matcher({"Authorization": f"Bearer {rotated}"})],
    )

    result = run(connection, "videos")

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert TikTokVideo.objects.count() == 5
    assert [c.request.url for c in mocked.calls].count(TOKEN_URL) == 1
    saved = TikTokContentConnection.objects.get(pk=connection.pk)
    assert saved.access_token.reveal() == rotated
    assert saved.refresh_token.reveal() == "rft.example9876543210rotatedrefreshtokenExample"


def test_a_missing_scope_fails_the_run_with_a_readable_error_and_writes_nothing(mocked, connection):
    mocked.post(
        VIDEO_LIST_URL, status=401, json=load_fixture(APP, "video_list__scope_not_authorized")
    )

    result = run(connection, "videos")

    assert result.status == SyncRun.Status.FAILED
    assert "PermissionDenied" in result.error and "scope_not_authorized" in result.error
    assert not TikTokVideo.objects.exists()


def test_a_long_throttle_fails_the_run_and_the_next_run_resumes_at_the_page(mocked, connection):
    mocked.post(VIDEO_LIST_URL, json=load_fixture(APP, "video_list__page1"))
    mocked.post(
        VIDEO_LIST_URL,
        status=429,
        json=load_fixture(APP, "video_list__rate_limit_exceeded"),
        headers={"Retry-After": "120"},
    )

    first = run(connection, "videos")

    assert first.status == SyncRun.Status.FAILED
    assert "RateLimited" in first.error
    assert TikTokVideo.objects.count() == 3
    assert first.checkpoint["cursor"] == {"cursor": 1794657600000}

    mocked.post(VIDEO_LIST_URL, json=load_fixture(APP, "video_list__page2"))
    second = run(connection, "videos")

    assert second.status == SyncRun.Status.SUCCEEDED
    assert cursor_of(mocked.calls[-1]) == 1794657600000  # page 2, not page 1 again
    assert TikTokVideo.objects.count() == 5


def test_profile_sync_asks_only_for_granted_fields_and_refreshes_the_card(mocked, tenant_a):
    connection = make_connection(
        tenant_a, scopes=["user.info.basic", "user.info.profile", "user.info.stats"]
    )
    mocked.get(USER_INFO_URL, json=load_fixture(APP, "user_info__profile_with_stats"))

    result = run(connection, "profile")

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    fields = parse_qs(urlsplit(mocked.calls[0].request.url).query)["fields"][0].split(",")
    assert fields == [
        "open_id",
        "union_id",
        "avatar_url",
        "display_name",
        "username",
        "bio_description",
        "profile_deep_link",
        "is_verified",
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
    ]
    profile = TikTokCreatorProfile.objects.get()
    assert (profile.username, profile.follower_count, profile.is_verified) == (
        "ana.creates",
        48213,
        False,
    )
    connection.refresh_from_db()
    assert connection.assets["username"] == "ana.creates"
    assert connection.assets["avatar_url"] == profile.avatar_url
    assert connection.display_name == "Ana Creates"


def test_profile_without_stats_or_profile_scope_asks_basic_fields_only(mocked, tenant_a):
    connection = make_connection(tenant_a, scopes=["user.info.basic"])
    mocked.get(USER_INFO_URL, json=load_fixture(APP, "user_info__basic_only"))

    run(connection, "profile")

    fields = parse_qs(urlsplit(mocked.calls[0].request.url).query)["fields"][0].split(",")
    assert fields == ["open_id", "union_id", "avatar_url", "display_name"]
    profile = TikTokCreatorProfile.objects.get()
    assert profile.follower_count is None and profile.username == ""


def test_a_second_profile_sync_updates_the_one_row(mocked, connection):
    mocked.get(USER_INFO_URL, json=load_fixture(APP, "user_info__profile_with_stats"))
    run(connection, "profile")
    run(connection, "profile")

    assert TikTokCreatorProfile.objects.count() == 1


def test_sparkline_points_follow_the_days():
    from apps.tiktok_content.selectors import SPARK_HEIGHT, SPARK_PAD, sparkline

    chart = sparkline({date(2026, 11, 1): 100, date(2026, 11, 3): 300, date(2026, 11, 2): 200})

    assert chart.values == [100, 200, 300]
    xs = [float(p.split(",")[0]) for p in chart.points.split()]
    ys = [float(p.split(",")[1]) for p in chart.points.split()]
    assert xs == sorted(xs)
    assert ys[0] == SPARK_HEIGHT - SPARK_PAD and ys[-1] == SPARK_PAD  # up is more
    assert chart.change == 200
    flat = sparkline({date(2026, 11, 1): 5})
    assert flat.points and flat.values == [5]
    assert sparkline({}).points == ""
