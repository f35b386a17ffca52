"""TikTok Content against the sandbox, in process: the syncs, a post end to end, and the
sandbox's own rules (the Display and Content Posting endpoints it emulates).

Acceptance 4 is :func:`test_the_token_expires_in_the_sandbox_mid_sync_and_the_sync_finishes_with_one_refresh`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.conf import settings

from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_for_connection_now
from apps.sandbox import generator, grants
from apps.sandbox.models import SandboxGrant
from apps.sandbox.views import tiktok_content as emulator
from apps.tiktok_content import publishing
from apps.tiktok_content.models import (
    PublishJob,
    TikTokContentConnection,
    TikTokVideo,
    TikTokVideoDailySnapshot,
)
from apps.tiktok_content.publishing import PostOptions

from . import test_contract
from .videos import MiB, mp4_bytes, mp4_upload

pytestmark = pytest.mark.django_db

API = settings.TIKTOK_CONTENT_API_BASE
TOKEN_PATH = "/v2/oauth/token/"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


class Clock:
    """The sandbox clock (``generator.now``), moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    moving = Clock(NOW)
    monkeypatch.setattr(generator, "now", moving)
    return moving


@pytest.fixture
def content(owner_client, sandbox) -> TikTokContentConnection:
    conn, _ = test_contract.TestTikTokContentContract().connect(owner_client)
    return conn


def account() -> str:
    return generator.identities("tiktok_content")[0].account_id


def api(method: str, path: str, token: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{API}{path}", headers=headers, timeout=5, **kwargs)


def token_of(conn) -> str:
    return TikTokContentConnection.objects.get(pk=conn.pk).access_token.reveal()


# --- the syncs --------------------------------------------------------------------------------


def test_the_token_expires_in_the_sandbox_mid_sync_and_the_sync_finishes_with_one_refresh(
    content, sandbox, clock
):
    expected = emulator.content_videos(account(), now=NOW)
    assert len(expected) > 20  # more than one page
    old_refresh = content.refresh_token.reveal()
    refreshes_before = sandbox.calls(TOKEN_PATH)
    expired: list[str] = []

    def expire_after_the_first_page(progress) -> None:
        if progress.page == 1:
            token = token_of(content)
            grants.expire_access(SandboxGrant.objects.get(access_token=token))
            expired.append(token)

    run = sync_run_for_connection_now(
        connection=content, kind="videos", trigger="manual", on_page=expire_after_the_first_page
    )

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert expired, "the token never expired"
    assert sandbox.calls(TOKEN_PATH) - refreshes_before == 1  # exactly one refresh
    assert SandboxGrant.objects.filter(provider="tiktok_content", parent__isnull=False).count() == 1
    stored = dict(TikTokVideo.objects.values_list("video_id", "view_count"))
    assert stored == {v["id"]: v["view_count"] for v in expected}
    assert run.stats["fetched"] == len(expected) and run.stats["errors"] == 0
    saved = TikTokContentConnection.objects.get(pk=content.pk)
    assert saved.access_token.reveal() not in expired
    assert saved.refresh_token.reveal() != old_refresh  # the rotated pair was saved
    # ... and the old refresh token is dead at the sandbox.
    assert SandboxGrant.objects.get(refresh_token=old_refresh).rotated


def test_videos_sync_stores_exactly_the_generated_videos_with_snapshots(content, clock):
    run = sync_run_for_connection_now(connection=content, kind="videos", trigger="manual")

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    expected = emulator.content_videos(account(), now=NOW)
    rows = {
        v.video_id: (v.title, v.like_count, v.comment_count, v.share_count, v.duration)
        for v in TikTokVideo.objects.all()
    }
    assert rows == {
        v["id"]: (v["title"], v["like_count"], v["comment_count"], v["share_count"], v["duration"])
        for v in expected
    }
    assert TikTokVideoDailySnapshot.objects.count() == len(expected)


def test_counts_grow_with_the_sandbox_clock(content, clock):
    sync_run_for_connection_now(connection=content, kind="videos", trigger="manual")
    before = dict(TikTokVideo.objects.values_list("video_id", "view_count"))
    clock.advance(3 * 3600)

    sync_run_for_connection_now(connection=content, kind="videos", trigger="manual")

    after = dict(TikTokVideo.objects.values_list("video_id", "view_count"))
    assert all(after[k] >= before[k] for k in before)
    assert sum(after.values()) > sum(before.values())


def test_profile_sync_fills_the_card(content, owner_client, clock):
    run = sync_run_for_connection_now(connection=content, kind="profile", trigger="manual")

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    user = generator.content_user(account())
    hub = owner_client.get("/integrations/?tab=tiktok").content.decode()
    assert f"@{user['username']}" in hub
    assert user["avatar_url"] in hub
    assert "videos synced" in hub or "video synced" in hub


# --- a post, end to end -------------------------------------------------------------------------


def test_a_post_goes_through_the_sandbox_to_publish_complete_and_shows_in_the_list(
    content, owner_a, clock, settings
):
    settings.SANDBOX_CONTENT_PROCESSING_SECONDS = 6
    creator = publishing.creator_info_query(connection=content)
    assert creator.privacy_level_options == emulator.PRIVACY_LEVELS
    job = publishing.publish_create(
        connection=content,
        user=owner_a,
        options=PostOptions(title="Hello sandbox", privacy_level="PUBLIC_TO_EVERYONE"),
        creator=creator,
        upload=mp4_upload(6 * MiB),
    )

    job = publishing.publish_execute(job_id=job.pk, sleep=clock.advance)

    assert job.status == PublishJob.Status.COMPLETE, job.error
    assert job.provider_status == "PUBLISH_COMPLETE"
    assert job.total_chunk_count == 1
    clock.advance(10)  # moderation: the post id shows one interval later
    assert publishing.publish_poll(job=job).post_ids
    sync_run_for_connection_now(connection=content, kind="videos", trigger="manual")
    assert TikTokVideo.objects.filter(title="Hello sandbox", video_id=job.post_ids[0]).exists()


# --- the emulator's rules --------------------------------------------------------------------------


def init(token: str, source: dict, post_info: dict | None = None, path="video/init/"):
    body = {"source_info": source}
    if post_info is not None:
        body["post_info"] = post_info
    return api("POST", f"/v2/post/publish/{path}", token, json=body)


PRIVATE = {"privacy_level": "SELF_ONLY", "disable_stitch": True}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {
                "source": "FILE_UPLOAD",
                "video_size": 30_000_000,
                "chunk_size": 10_000_000,
                "total_chunk_count": 4,
            },
            "total_chunk_count must be floor(video_size / chunk_size) = 3.",
        ),
        (
            {
                "source": "FILE_UPLOAD",
                "video_size": 30_000_000,
                "chunk_size": 1_000_000,
                "total_chunk_count": 30,
            },
            "chunk_size must be between 5 MB and 64 MB.",
        ),
        (
            {
                "source": "FILE_UPLOAD",
                "video_size": 15_000_000,
                "chunk_size": 10_000_000,
                "total_chunk_count": 1,
            },
            "With one chunk, chunk_size must equal video_size.",
        ),
        (
            {
                "source": "FILE_UPLOAD",
                "video_size": 100_000_000,
                "chunk_size": 100_000_000,
                "total_chunk_count": 1,
            },
            "A video over 64 MB must be uploaded in several chunks.",
        ),
        (
            {
                "source": "FILE_UPLOAD",
                "video_size": 3_000_000,
                "chunk_size": 1_000_000,
                "total_chunk_count": 3,
            },
            "A video under 5 MB is uploaded whole",
        ),
        ({"source": "FILE_UPLOAD", "video_size": "big"}, "must be positive integers"),
        ({"source": "CARRIER_PIGEON"}, "FILE_UPLOAD or PULL_FROM_URL"),
    ],
)
def test_init_refuses_a_layout_that_breaks_the_media_transfer_rules(content, source, message):
    answer = init(token_of(content), source, PRIVATE)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_params"
    assert message in error["message"]
    assert error["log_id"]


def test_init_refuses_an_audience_the_creator_does_not_offer(content, monkeypatch):
    monkeypatch.setattr(emulator, "_CREATOR_OPTIONS", (emulator._CREATOR_OPTIONS[1],) * 3)
    answer = init(
        token_of(content),
        {"source": "FILE_UPLOAD", "video_size": 10, "chunk_size": 10, "total_chunk_count": 1},
        {"privacy_level": "PUBLIC_TO_EVERYONE", "disable_duet": True, "disable_stitch": True},
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("privacy_level_option_mismatch")


def test_init_requires_disabled_interactions_to_be_sent_disabled(content):
    answer = init(
        token_of(content),
        {"source": "FILE_UPLOAD", "video_size": 10, "chunk_size": 10, "total_chunk_count": 1},
        {"privacy_level": "SELF_ONLY", "disable_stitch": False},
    )

    assert answer.status_code == 400
    assert "disable_stitch must be true" in answer.json()["error"]["message"]


def start_upload(token: str, size: int, chunk: int, count: int) -> str:
    answer = init(
        token,
        {
            "source": "FILE_UPLOAD",
            "video_size": size,
            "chunk_size": chunk,
            "total_chunk_count": count,
        },
        PRIVATE,
    )
    assert answer.status_code == 200, answer.content
    return answer.json()["data"]


def put(url: str, body: bytes, content_range: str, content_type: str = "video/mp4"):
    return requests.put(
        url,
        data=body,
        headers={"Content-Range": content_range, "Content-Type": content_type},
        timeout=5,
    )


def test_chunks_must_come_in_order_with_exact_ranges_types_and_lengths(content, clock):
    size = 12 * MiB
    data = start_upload(token_of(content), size, 6 * MiB, 2)
    url = data["upload_url"]
    video = mp4_bytes(size)
    half = 6 * MiB

    out_of_order = put(url, video[half:], f"bytes {half}-{size - 1}/{size}")
    assert out_of_order.status_code == 416
    assert out_of_order.json()["error"]["code"] == "invalid_file_upload"

    wrong_total = put(url, video[:half], f"bytes 0-{half - 1}/{size + 1}")
    wrong_range = put(url, video[: half - 1], f"bytes 0-{half - 2}/{size}")
    wrong_type = put(url, video[:half], f"bytes 0-{half - 1}/{size}", "video/x-msvideo")
    short_body = put(url, video[: half - 5], f"bytes 0-{half - 1}/{size}")
    no_range = requests.put(url, data=b"x", headers={"Content-Type": "video/mp4"}, timeout=5)
    for answer, words in (
        (wrong_total, "must be video_size"),
        (wrong_range, "must cover bytes 0-6291455"),
        (wrong_type, "Content-Type must be one of"),
        (short_body, "Content-Range announces 6291456"),
        (no_range, "Content-Range must read"),
    ):
        assert answer.status_code == 400, answer.content
        assert words in answer.json()["error"]["message"]

    first = put(url, video[:half], f"bytes 0-{half - 1}/{size}")
    assert first.status_code == 206
    status = api(
        "POST",
        "/v2/post/publish/status/fetch/",
        token_of(content),
        json={"publish_id": data["publish_id"]},
    )
    assert status.json()["data"] == {
        "status": "PROCESSING_UPLOAD",
        "uploaded_bytes": half,
        "fail_reason": "",
    }
    last = put(url, video[half:], f"bytes {half}-{size - 1}/{size}")
    assert last.status_code == 201
    again = put(url, video[half:], f"bytes {half}-{size - 1}/{size}")
    assert again.status_code == 416


def test_an_unknown_upload_url_is_404(content):
    answer = put(
        f"{settings.SANDBOX_BASE_URL}/tiktok-content/upload/video/?upload_id=nope&upload_token=x",
        b"x",
        "bytes 0-0/1",
    )
    assert answer.status_code == 404


def fetch(token: str, publish_id: str) -> dict:
    answer = api("POST", "/v2/post/publish/status/fetch/", token, json={"publish_id": publish_id})
    assert answer.status_code == 200, answer.content
    return answer.json()["data"]


def test_status_moves_over_time_and_public_posts_get_their_id_after_moderation(
    content, clock, settings
):
    settings.SANDBOX_CONTENT_PROCESSING_SECONDS = 5
    token = token_of(content)
    answer = init(
        token,
        {"source": "FILE_UPLOAD", "video_size": MiB, "chunk_size": MiB, "total_chunk_count": 1},
        {"privacy_level": "PUBLIC_TO_EVERYONE", "disable_stitch": True, "title": "Now public"},
    )
    data = answer.json()["data"]
    assert fetch(token, data["publish_id"])["status"] == "PROCESSING_UPLOAD"
    assert put(data["upload_url"], mp4_bytes(MiB), f"bytes 0-{MiB - 1}/{MiB}").status_code == 201

    assert fetch(token, data["publish_id"])["status"] == "PROCESSING_UPLOAD"
    clock.advance(5)
    done = fetch(token, data["publish_id"])
    assert (done["status"], done["publicaly_available_post_id"]) == ("PUBLISH_COMPLETE", [])
    clock.advance(5)
    moderated = fetch(token, data["publish_id"])["publicaly_available_post_id"]
    assert len(moderated) == 1
    listed = api("POST", "/v2/video/list/?fields=id,title", token, json={"max_count": 1}).json()[
        "data"
    ]["videos"]
    assert listed == [{"id": str(moderated[0]), "title": "Now public"}]


def test_a_file_that_is_no_video_fails_after_upload(content, clock, settings):
    settings.SANDBOX_CONTENT_PROCESSING_SECONDS = 0
    token = token_of(content)
    data = start_upload(token, 100, 100, 1)
    assert put(data["upload_url"], b"not a video" * 9 + b"x", "bytes 0-99/100").status_code == 201

    status = fetch(token, data["publish_id"])

    assert (status["status"], status["fail_reason"]) == ("FAILED", "file_format_check_failed")


def test_pull_from_url_needs_a_verified_prefix_then_downloads(content, clock, settings):
    settings.SANDBOX_CONTENT_PROCESSING_SECONDS = 4
    token = token_of(content)
    refused = init(
        token, {"source": "PULL_FROM_URL", "video_url": "https://elsewhere.example/v.mp4"}, PRIVATE
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "url_ownership_unverified"

    accepted = init(
        token,
        {"source": "PULL_FROM_URL", "video_url": "https://media.sandbox.example/v.mp4"},
        PRIVATE,
    )
    publish_id = accepted.json()["data"]["publish_id"]
    assert "upload_url" not in accepted.json()["data"]
    clock.advance(2)
    half = fetch(token, publish_id)
    assert half["status"] == "PROCESSING_DOWNLOAD" and half["downloaded_bytes"] > 0
    clock.advance(2)
    assert fetch(token, publish_id)["status"] == "PUBLISH_COMPLETE"


def test_posting_endpoints_need_their_scopes(owner_client, sandbox):
    conn, _ = test_contract.TestTikTokContentContract().connect(
        owner_client, decline=("video.publish", "video.upload")
    )
    token = token_of(conn)

    for path in ("/v2/post/publish/creator_info/query/", "/v2/post/publish/video/init/"):
        answer = api("POST", path, token, json={})
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "scope_not_authorized"


def test_video_list_pages_by_cursor_and_checks_max_count(content, clock):
    token = token_of(content)
    expected = [v["id"] for v in emulator.content_videos(account(), now=NOW)]
    seen, cursor = [], None
    while True:
        body = {"max_count": 20, **({"cursor": cursor} if cursor else {})}
        data = api("POST", "/v2/video/list/?fields=id", token, json=body).json()["data"]
        seen += [v["id"] for v in data["videos"]]
        cursor = data["cursor"]
        if not data["has_more"]:
            break
    assert seen == expected

    too_many = api("POST", "/v2/video/list/?fields=id", token, json={"max_count": 21})
    unknown = api("POST", "/v2/video/list/?fields=id,plays", token, json={})
    assert too_many.status_code == unknown.status_code == 400
    assert too_many.json()["error"]["code"] == "invalid_params"


def test_init_is_throttled_after_six_a_minute_per_token(content):
    token = token_of(content)
    source = {"source": "FILE_UPLOAD", "video_size": 10, "chunk_size": 10, "total_chunk_count": 1}

    answers = [init(token, source, PRIVATE).status_code for _ in range(7)]

    assert answers == [200] * 6 + [429]


def test_creator_options_differ_per_generated_creator():
    first, second = (i.account_id for i in generator.identities("tiktok_content")[:2])

    assert "PUBLIC_TO_EVERYONE" in emulator.creator_info(first)["privacy_level_options"]
    private = emulator.creator_info(second)
    assert "PUBLIC_TO_EVERYONE" not in private["privacy_level_options"]
    assert private["duet_disabled"] is True


def test_the_client_and_the_sandbox_agree_on_every_plan_size(content):
    """The hub's chunk plan is valid for the emulator's independent reading of the rules."""
    from apps.tiktok_content.client import chunk_plan

    for size in (
        1,
        5 * MiB - 1,
        5 * MiB,
        19_999_999,
        20_000_000,
        30 * MiB,
        64_000_001,
        150_000_000,
    ):
        plan = chunk_plan(size)
        assert emulator._source_problem(plan.source_info()) is None, size
