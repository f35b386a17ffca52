"""Acceptance 2: a file goes up in exactly the chunks the media transfer rules ask for, and a
file the rules refuse is refused before any call, with the reason.

The 30 MB uploads run the real worker path (``publish_execute``) against
``responses``, and the test reads every request that went out.
"""

from __future__ import annotations

import itertools
import json
import re

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.integrations.testing import load_fixture
from apps.tiktok_content import publishing
from apps.tiktok_content.client import (
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    ChunkPlan,
    UploadRuleError,
    chunk_plan,
)
from apps.tiktok_content.models import PublishJob
from apps.tiktok_content.publishing import PostOptions, PublishError

from .conftest import API, APP, UPLOAD_URL
from .videos import MiB, mp4_bytes, mp4_upload

pytestmark = pytest.mark.django_db

INIT_URL = f"{API}/v2/post/publish/video/init/"
STATUS_URL = f"{API}/v2/post/publish/status/fetch/"
UPLOAD_HOST = re.compile(r"^https://open-upload\.tiktokapis\.com/video/")
PUBLIC = PostOptions(title="Lemon pasta", privacy_level="PUBLIC_TO_EVERYONE", allow_comment=True)


# --- the chunk layout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        # under 5 MB: the whole file, one chunk
        (1, (1, 1)),
        (MIN_CHUNK_BYTES - 1, (MIN_CHUNK_BYTES - 1, 1)),
        # floor(size / chunk) == 1: chunk_size must equal video_size (contract's common bug)
        (MIN_CHUNK_BYTES, (MIN_CHUNK_BYTES, 1)),
        (19_999_999, (19_999_999, 1)),
        # 30 MiB: floor(31457280 / 10^7) = 3, the last chunk takes the 1,457,280 extra bytes
        (30 * MiB, (10_000_000, 3)),
        (30_000_000, (10_000_000, 3)),
        (25_000_000, (10_000_000, 2)),
    ],
)
def test_chunk_plan_follows_the_media_transfer_rules(size, expected):
    plan = chunk_plan(size)

    assert (plan.chunk_size, plan.total_chunk_count) == expected
    assert plan.total_chunk_count == size // plan.chunk_size
    ranges = plan.ranges()
    assert ranges[0][0] == 0 and ranges[-1][1] == size - 1
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
    assert all(last - first + 1 == plan.chunk_size for first, last in ranges[:-1])


def test_a_big_chunk_preference_never_sends_one_chunk_over_64_mb():
    plan = chunk_plan(100_000_000, chunk_size=MAX_CHUNK_BYTES)

    assert plan.total_chunk_count == 2
    assert plan.chunk_size == 50_000_000
    assert all(last - first + 1 <= MAX_CHUNK_BYTES for first, last in plan.ranges())


def test_more_than_1000_chunks_grow_the_chunk_instead():
    size = 20_000_000_000  # 2000 chunks of 10 MB
    plan = chunk_plan(size)

    assert plan.total_chunk_count == 1000
    assert plan.chunk_size == 20_000_000


def test_an_empty_or_impossible_file_has_no_plan():
    with pytest.raises(UploadRuleError, match="empty"):
        chunk_plan(0)
    with pytest.raises(UploadRuleError, match="more than 1000 chunks"):
        chunk_plan(1000 * MAX_CHUNK_BYTES * 2)


# --- a 30 MB upload, request by request -------------------------------------------------------


def _register_tiktok(mocked: responses.RequestsMock, received: list[bytes]) -> None:
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__file_upload"))

    def put(request):
        received.append(request.body)
        _first, last, total = map(int, re.findall(r"\d+", request.headers["Content-Range"]))
        return (201 if last == total - 1 else 206), {}, ""

    mocked.add_callback(responses.PUT, UPLOAD_HOST, callback=put)
    mocked.post(STATUS_URL, json=load_fixture(APP, "post_publish_status_fetch__publish_complete"))


@pytest.mark.parametrize(
    ("size", "ranges"),
    [
        (
            30 * MiB,
            [
                "bytes 0-9999999/31457280",
                "bytes 10000000-19999999/31457280",
                "bytes 20000000-31457279/31457280",
            ],
        ),
        (
            30_000_000,
            [
                "bytes 0-9999999/30000000",
                "bytes 10000000-19999999/30000000",
                "bytes 20000000-29999999/30000000",
            ],
        ),
    ],
)
def test_a_30_mb_file_uploads_in_three_chunks_with_exact_content_ranges(
    mocked, connection, creator, owner_a, size, ranges
):
    received: list[bytes] = []
    _register_tiktok(mocked, received)
    original = mp4_bytes(size)
    upload = mp4_upload(size)

    job = publishing.publish_create(
        connection=connection, user=owner_a, options=PUBLIC, creator=creator, upload=upload
    )
    assert len(mocked.calls) == 0  # nothing leaves before the worker runs
    stored = job.video_file.name
    assert job.video_file.storage.exists(stored)

    job = publishing.publish_execute(job_id=job.pk, sleep=lambda s: None)

    methods = [(c.request.method, c.request.url.split("?")[0]) for c in mocked.calls]
    assert methods == [
        ("POST", INIT_URL),
        ("PUT", "https://open-upload.tiktokapis.com/video/"),
        ("PUT", "https://open-upload.tiktokapis.com/video/"),
        ("PUT", "https://open-upload.tiktokapis.com/video/"),
        ("POST", STATUS_URL),
    ]
    init = json.loads(mocked.calls[0].request.body)
    assert init["source_info"] == {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": 10_000_000,
        "total_chunk_count": 3,
    }
    assert init["post_info"]["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert init["post_info"]["disable_comment"] is False
    assert init["post_info"]["disable_stitch"] is True  # the creator turned stitches off

    puts = [c.request for c in mocked.calls[1:4]]
    assert [p.headers["Content-Range"] for p in puts] == ranges
    assert [int(p.headers["Content-Length"]) for p in puts] == [len(b) for b in received]
    assert [len(b) for b in received] == [10_000_000, 10_000_000, size - 20_000_000]
    assert {p.headers["Content-Type"] for p in puts} == {"video/mp4"}
    assert all("Authorization" not in p.headers for p in puts)  # the URL is signed
    assert puts[0].url == UPLOAD_URL
    assert b"".join(received) == original

    assert job.status == PublishJob.Status.COMPLETE
    assert (job.progress, job.uploaded_bytes) == (100, size)
    assert job.publish_id == "v_pub_file~v2-1.7437712345678901234"
    assert job.post_ids == ["7437712399999999999"]
    # The stored copy was only a waiting room.
    assert not job.video_file.storage.exists(stored)
    assert PublishJob.objects.get(pk=job.pk).video_file.name == ""


def test_a_small_file_goes_whole_in_one_chunk(mocked, connection, creator, owner_a):
    received: list[bytes] = []
    _register_tiktok(mocked, received)
    size = 2 * MiB

    job = publishing.publish_create(
        connection=connection,
        user=owner_a,
        options=PUBLIC,
        creator=creator,
        upload=mp4_upload(size),
    )
    job = publishing.publish_execute(job_id=job.pk, sleep=lambda s: None)

    init = json.loads(mocked.calls[0].request.body)
    assert init["source_info"]["chunk_size"] == size
    assert init["source_info"]["total_chunk_count"] == 1
    assert mocked.calls[1].request.headers["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    assert job.status == PublishJob.Status.COMPLETE


# --- refused before any call --------------------------------------------------------------------


def _text_file(name, content_type):
    return SimpleUploadedFile(name, b"this is not a video at all" * 100, content_type)


@pytest.mark.parametrize(
    ("make_upload", "message"),
    [
        (lambda: _text_file("clip.mp4", "video/mp4"), "This file is not a valid MP4 video."),
        (lambda: _text_file("clip.avi", "video/x-msvideo"), "TikTok takes MP4, MOV or WebM"),
        (lambda: SimpleUploadedFile("empty.mp4", b"", "video/mp4"), "The file is empty."),
        (
            lambda: mp4_upload(1 * MiB, duration_s=301),
            "The video lasts 301 seconds; this account can post up to 300.",
        ),
        (lambda: _text_file("clip.mov", "video/quicktime"), "This file is not a valid MOV video."),
    ],
    ids=["not-a-video", "wrong-type", "empty", "too-long", "mov-not-a-video"],
)
def test_a_file_the_rules_refuse_is_refused_before_any_call(
    real_hosts, connection, creator, owner_a, make_upload, message
):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as nothing_registered:
        with pytest.raises(PublishError) as refused:
            publishing.publish_create(
                connection=connection,
                user=owner_a,
                options=PUBLIC,
                creator=creator,
                upload=make_upload(),
            )
        assert len(nothing_registered.calls) == 0
    assert message in str(refused.value)
    assert not PublishJob.objects.exists()
    assert not (real_hosts.TIKTOK_CONTENT_UPLOAD_DIR).exists()


def test_a_file_over_the_size_limit_is_refused_before_any_call(
    real_hosts, connection, creator, owner_a
):
    real_hosts.TIKTOK_CONTENT_MAX_VIDEO_BYTES = 1 * MiB
    with responses.RequestsMock(assert_all_requests_are_fired=False) as nothing_registered:
        with pytest.raises(
            PublishError, match=r"The file is 2\.0 MB; TikTok takes videos up to 1\.0 MB"
        ):
            publishing.publish_create(
                connection=connection,
                user=owner_a,
                options=PUBLIC,
                creator=creator,
                upload=mp4_upload(2 * MiB),
            )
        assert len(nothing_registered.calls) == 0
    assert not PublishJob.objects.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            PostOptions(privacy_level="PUBLIC_TO_EVERYONE_AND_MARS"),
            "Choose who can see the video among the options TikTok offers",
        ),
        (
            PostOptions(privacy_level="SELF_ONLY", branded_content=True),
            "Branded content cannot be private",
        ),
        (PostOptions(privacy_level="SELF_ONLY", title="x" * 2201), "longer than 2200 characters"),
    ],
)
def test_options_tiktok_did_not_offer_are_refused_before_any_call(
    real_hosts, connection, creator, owner_a, options, message
):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as nothing_registered:
        with pytest.raises(PublishError, match=message):
            publishing.publish_create(
                connection=connection,
                user=owner_a,
                options=options,
                creator=creator,
                upload=mp4_upload(MiB),
            )
        assert len(nothing_registered.calls) == 0


def test_the_plan_is_sent_exactly_as_source_info():
    assert ChunkPlan(31457280, 10_000_000, 3).source_info() == {
        "source": "FILE_UPLOAD",
        "video_size": 31457280,
        "chunk_size": 10_000_000,
        "total_chunk_count": 3,
    }
