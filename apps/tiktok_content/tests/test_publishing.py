"""Publishing services: creator options, permissions, the worker, status tracking, the sweep."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.integrations.testing import load_fixture
from apps.tiktok_content import publishing
from apps.tiktok_content.models import PublishJob
from apps.tiktok_content.publishing import CreatorInfo, PostOptions, PublishError

from .conftest import API, APP, make_connection
from .videos import MiB, mp4_upload

pytestmark = pytest.mark.django_db

CREATOR_URL = f"{API}/v2/post/publish/creator_info/query/"
INIT_URL = f"{API}/v2/post/publish/video/init/"
INBOX_URL = f"{API}/v2/post/publish/inbox/video/init/"
STATUS_URL = f"{API}/v2/post/publish/status/fetch/"
UPLOAD_HOST = re.compile(r"^https://open-upload\.tiktokapis\.com/video/")
PRIVATE = PostOptions(title="Draft idea", privacy_level="SELF_ONLY")
NO_SLEEP = {"sleep": lambda s: None}


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(
        "apps.tiktok_content.publishing.enqueue", lambda func, *args: calls.append((func, *args))
    )
    return calls


def new_job(connection, creator, owner, *, size=MiB, options=PRIVATE) -> PublishJob:
    return publishing.publish_create(
        connection=connection, user=owner, options=options, creator=creator, upload=mp4_upload(size)
    )


def status(mocked, *fixtures: str) -> None:
    for name in fixtures:
        mocked.post(STATUS_URL, json=load_fixture(APP, f"post_publish_status_fetch__{name}"))


# --- creator options -------------------------------------------------------------------------


def test_creator_info_is_read_and_kept_in_the_session_for_the_post(mocked, connection):
    mocked.post(CREATOR_URL, json=load_fixture(APP, "post_publish_creator_info_query__success"))
    session: dict = {}

    first = publishing.creator_info_for_form(connection=connection, store=session, fresh=True)
    again = publishing.creator_info_for_form(connection=connection, store=session)

    assert len(mocked.calls) == 1
    assert first == again
    assert first.privacy_level_options[0] == "PUBLIC_TO_EVERYONE"
    assert (first.stitch_disabled, first.max_video_post_duration_sec) == (True, 300)


def test_a_stale_copy_is_asked_again(mocked, connection):
    mocked.post(CREATOR_URL, json=load_fixture(APP, "post_publish_creator_info_query__success"))
    old = CreatorInfo.from_answer(
        load_fixture(APP, "post_publish_creator_info_query__private_account")["data"]
    )
    old = CreatorInfo(**{**old.__dict__, "fetched_at": timezone.now() - timedelta(hours=1)})
    session = {publishing.SESSION_KEY.format(pk=connection.pk): old.to_json()}

    info = publishing.creator_info_for_form(connection=connection, store=session)

    assert len(mocked.calls) == 1
    assert "PUBLIC_TO_EVERYONE" in info.privacy_level_options


def test_without_the_publish_scope_nothing_is_asked_and_the_message_says_how_to_fix(
    mocked, tenant_a
):
    connection = make_connection(tenant_a, scopes=["user.info.basic", "video.list"])

    with pytest.raises(PublishError, match="Reconnect TikTok Content on the hub"):
        publishing.creator_info_query(connection=connection)

    assert len(mocked.calls) == 0
    assert not publishing.publish_capabilities(connection=connection).can_publish


def test_a_scope_tiktok_refuses_says_which_pack_to_reconnect_with(mocked, connection):
    mocked.post(
        CREATOR_URL,
        status=401,
        json=load_fixture(APP, "post_publish_creator_info_query__scope_not_authorized"),
    )

    with pytest.raises(PublishError, match="Publishing pack"):
        publishing.creator_info_query(connection=connection)


def test_a_throttled_creator_info_says_to_wait(mocked, connection):
    mocked.post(
        CREATOR_URL,
        status=429,
        json=load_fixture(APP, "post_publish_creator_info_query__rate_limit_exceeded"),
        headers={"Retry-After": "60"},
    )

    with pytest.raises(PublishError, match="wait"):
        publishing.creator_info_query(connection=connection)


def test_switches_the_creator_turned_off_are_sent_disabled_whatever_the_form_says():
    creator = CreatorInfo.from_answer(
        load_fixture(APP, "post_publish_creator_info_query__private_account")["data"]
    )
    options = PostOptions(
        privacy_level="FOLLOWER_OF_CREATOR", allow_comment=True, allow_duet=True, allow_stitch=True
    )

    post_info = publishing.post_options_check(options=options, creator=creator)

    assert post_info["disable_comment"] is True
    assert post_info["disable_duet"] is True
    assert post_info["disable_stitch"] is True


def test_a_private_account_cannot_post_publicly(creator):
    private = CreatorInfo.from_answer(
        load_fixture(APP, "post_publish_creator_info_query__private_account")["data"]
    )
    with pytest.raises(PublishError):
        publishing.post_options_check(
            options=PostOptions(privacy_level="PUBLIC_TO_EVERYONE"), creator=private
        )


# --- the worker ---------------------------------------------------------------------------------


def test_without_the_publish_pack_no_job_is_created(mocked, tenant_a, creator, owner_a):
    connection = make_connection(tenant_a, scopes=["user.info.basic", "video.list"])

    with pytest.raises(PublishError, match="Publishing pack"):
        new_job(connection, creator, owner_a)

    assert not PublishJob.objects.exists()


def test_the_job_is_queued_after_commit_and_runs_once(
    mocked, connection, creator, owner_a, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = new_job(connection, creator, owner_a)
    assert queued == [("apps.tiktok_content.tasks.run_publish", job.pk)]
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__file_upload"))
    mocked.put(UPLOAD_HOST, status=201)
    status(mocked, "publish_complete_in_moderation")

    done = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)
    calls = len(mocked.calls)
    again = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)

    assert done.status == again.status == PublishJob.Status.COMPLETE
    assert done.post_ids == []  # complete before moderation: no id yet, and that is normal
    assert len(mocked.calls) == calls  # a second delivery of the task does nothing


def test_status_is_followed_until_complete(mocked, connection, creator, owner_a):
    job = new_job(connection, creator, owner_a)
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__file_upload"))
    mocked.put(UPLOAD_HOST, status=201)
    status(mocked, "processing_upload", "processing_upload", "publish_complete")
    waits: list[float] = []

    job = publishing.publish_execute(job_id=job.pk, sleep=waits.append)

    assert waits == [publishing.FAST_POLL_SECONDS] * 2
    assert job.status == PublishJob.Status.COMPLETE
    assert (job.provider_status, job.polls, job.progress) == ("PUBLISH_COMPLETE", 3, 100)
    assert job.finished_at is not None and job.next_poll_at is None


def test_a_failed_status_fails_the_job_with_the_reason(mocked, connection, creator, owner_a):
    job = new_job(connection, creator, owner_a)
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__file_upload"))
    mocked.put(UPLOAD_HOST, status=201)
    status(mocked, "failed")

    job = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)

    assert job.status == PublishJob.Status.FAILED
    assert job.fail_reason == "file_format_check_failed"
    assert "file_format_check_failed" in job.error


@pytest.mark.parametrize(
    ("fixture", "http", "message"),
    [
        ("invalid_params_chunk", 400, "TikTok refused the post: total_chunk_count must be"),
        ("spam_risk_too_many_posts", 403, "posted too much today"),
        ("scope_not_authorized", 401, "Publishing pack"),
        ("rate_limit_exceeded", 429, "publish again in a minute"),
    ],
)
def test_an_init_refusal_fails_the_job_with_a_clear_message_and_drops_the_file(
    mocked, connection, creator, owner_a, fixture, http, message
):
    job = new_job(connection, creator, owner_a)
    stored = job.video_file.name
    mocked.post(
        INIT_URL, status=http, json=load_fixture(APP, f"post_publish_video_init__{fixture}")
    )

    job = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)

    assert job.status == PublishJob.Status.FAILED
    assert message in job.error
    assert len(mocked.calls) == 1  # never repeated, no upload
    assert not job.video_file.storage.exists(stored)


def test_a_refused_chunk_stops_the_upload_and_fails_the_job(mocked, connection, creator, owner_a):
    job = new_job(connection, creator, owner_a, size=30 * MiB)
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__file_upload"))
    mocked.put(UPLOAD_HOST, status=206)
    mocked.put(UPLOAD_HOST, status=416, json=load_fixture(APP, "upload_video__out_of_order"))

    job = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)

    assert job.status == PublishJob.Status.FAILED
    assert "The upload was refused" in job.error and "in order" in job.error
    assert job.uploaded_bytes == 10_000_000
    assert [c.request.method for c in mocked.calls] == ["POST", "PUT", "PUT"]


def test_an_inbox_draft_uses_the_inbox_endpoint_and_ends_in_the_inbox(
    mocked, connection, creator, owner_a
):
    job = new_job(connection, creator, owner_a, options=PostOptions(mode="inbox"))
    mocked.post(INBOX_URL, json=load_fixture(APP, "post_publish_inbox_video_init__file_upload"))
    mocked.put(UPLOAD_HOST, status=201)
    status(mocked, "send_to_user_inbox")

    job = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)

    assert json.loads(mocked.calls[0].request.body).keys() == {"source_info"}
    assert job.status == PublishJob.Status.COMPLETE
    assert job.provider_status == "SEND_TO_USER_INBOX"


def test_an_inbox_draft_needs_no_creator_info(mocked, tenant_a, owner_a):
    connection = make_connection(tenant_a, scopes=["user.info.basic", "video.upload"])

    job = publishing.publish_create(
        connection=connection,
        user=owner_a,
        options=PostOptions(mode="inbox"),
        creator=None,
        upload=mp4_upload(MiB),
    )

    assert job.mode == "inbox" and job.options["post_info"] == {}


# --- pull from URL ----------------------------------------------------------------------------


def test_pull_from_url_is_refused_unless_the_prefix_is_verified(
    mocked, connection, creator, owner_a, settings
):
    settings.TIKTOK_CONTENT_PULL_FROM_URL_PREFIXES = ["https://media.acme.example/"]
    for url, message in (
        ("http://media.acme.example/v.mp4", "https://"),
        ("https://cdn.elsewhere.example/v.mp4", "verified on the developer app"),
    ):
        with pytest.raises(PublishError, match=message):
            publishing.publish_create(
                connection=connection, user=owner_a, options=PRIVATE, creator=creator, video_url=url
            )
    assert len(mocked.calls) == 0
    assert not PublishJob.objects.exists()


def test_pull_from_url_sends_the_url_and_follows_the_download(
    mocked, connection, creator, owner_a, settings
):
    settings.TIKTOK_CONTENT_PULL_FROM_URL_PREFIXES = "https://media.acme.example/"
    job = publishing.publish_create(
        connection=connection,
        user=owner_a,
        options=PRIVATE,
        creator=creator,
        video_url="https://media.acme.example/launch.mp4",
    )
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__pull_from_url"))
    status(mocked, "processing_download", "publish_complete")

    job = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)

    assert json.loads(mocked.calls[0].request.body)["source_info"] == {
        "source": "PULL_FROM_URL",
        "video_url": "https://media.acme.example/launch.mp4",
    }
    assert [c.request.method for c in mocked.calls] == ["POST", "POST", "POST"]
    assert job.status == PublishJob.Status.COMPLETE


def test_an_unverified_url_refused_by_tiktok_fails_with_the_reason(
    mocked, connection, creator, owner_a, settings
):
    settings.TIKTOK_CONTENT_PULL_FROM_URL_PREFIXES = ["https://media.acme.example/"]
    job = publishing.publish_create(
        connection=connection,
        user=owner_a,
        options=PRIVATE,
        creator=creator,
        video_url="https://media.acme.example/x.mp4",
    )
    mocked.post(
        INIT_URL,
        status=403,
        json=load_fixture(APP, "post_publish_video_init__url_ownership_unverified"),
    )

    job = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)

    assert job.fail_reason == "url_ownership_unverified"
    assert "verified on the developer app" in job.error


# --- after the first minute: the sweep -----------------------------------------------------------


def processing_job(connection, creator, owner, **fields) -> PublishJob:
    job = new_job(connection, creator, owner)
    defaults = {
        "status": PublishJob.Status.PROCESSING,
        "publish_id": "v_pub_file~v2-1.1",
        "uploaded_at": timezone.now() - timedelta(minutes=3),
        "next_poll_at": timezone.now() - timedelta(seconds=1),
    }
    PublishJob.objects.filter(pk=job.pk).update(**{**defaults, **fields})
    return PublishJob.objects.get(pk=job.pk)


def test_a_job_still_processing_after_the_first_minute_is_left_to_the_sweep(
    mocked, connection, creator, owner_a
):
    job = new_job(connection, creator, owner_a)
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__file_upload"))
    mocked.put(UPLOAD_HOST, status=201)
    mocked.assert_all_requests_are_fired = False
    for _ in range(20):
        status(mocked, "processing_upload")
    clock = iter(range(0, 1000, 4))

    job = publishing.publish_execute(job_id=job.pk, sleep=lambda s: None, clock=lambda: next(clock))

    assert job.status == PublishJob.Status.PROCESSING
    assert job.polls == 15  # 60 s at one poll every 4 s
    assert job.next_poll_at > timezone.now() + publishing.SLOW_POLL_MIN - timedelta(seconds=5)


def test_the_sweep_queues_due_polls_requeues_lost_jobs_and_fails_stalled_uploads(
    mocked, connection, creator, owner_a, queued
):
    due = processing_job(connection, creator, owner_a)
    processing_job(connection, creator, owner_a, next_poll_at=timezone.now() + timedelta(minutes=5))
    lost = new_job(connection, creator, owner_a)
    PublishJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
    stalled = new_job(connection, creator, owner_a)
    PublishJob.objects.filter(pk=stalled.pk).update(
        status="uploading", updated_at=timezone.now() - timedelta(hours=1)
    )
    queued.clear()

    result = publishing.publish_sweep()

    assert result == {"polls": 1, "requeued": 1, "stalled": 1}
    assert ("apps.tiktok_content.tasks.poll_publish", due.pk) in queued
    assert ("apps.tiktok_content.tasks.run_publish", lost.pk) in queued
    stalled.refresh_from_db()
    assert stalled.status == "failed" and "Publish again" in stalled.error


def test_a_due_poll_claims_the_job_once_and_schedules_the_next(
    mocked, connection, creator, owner_a
):
    job = processing_job(connection, creator, owner_a)
    status(mocked, "processing_upload")

    polled = publishing.publish_poll_due(job_id=job.pk)
    again = publishing.publish_poll_due(job_id=job.pk)  # not due any more

    assert len(mocked.calls) == 1
    assert polled.status == again.status == PublishJob.Status.PROCESSING
    assert again.next_poll_at > timezone.now()


def test_a_due_poll_completes_the_job(mocked, connection, creator, owner_a):
    job = processing_job(connection, creator, owner_a)
    status(mocked, "publish_complete")

    job = publishing.publish_poll_due(job_id=job.pk)

    assert job.status == PublishJob.Status.COMPLETE
    assert job.post_ids == ["7437712399999999999"]


def test_a_throttled_poll_keeps_the_job_processing(mocked, connection, creator, owner_a):
    job = processing_job(connection, creator, owner_a)
    mocked.post(
        STATUS_URL,
        status=429,
        json=load_fixture(APP, "post_publish_status_fetch__rate_limit_exceeded"),
        headers={"Retry-After": "60"},
    )

    job = publishing.publish_poll_due(job_id=job.pk)

    assert job.status == PublishJob.Status.PROCESSING
    assert "rate_limit_exceeded" in job.error
    assert job.next_poll_at > timezone.now()


def test_a_job_processing_for_a_day_is_given_up(mocked, connection, creator, owner_a):
    job = processing_job(
        connection, creator, owner_a, uploaded_at=timezone.now() - timedelta(hours=25)
    )

    job = publishing.publish_poll_due(job_id=job.pk)

    assert job.status == PublishJob.Status.FAILED
    assert "24 hours" in job.error
    assert len(mocked.calls) == 0


def test_the_poll_interval_grows_with_the_age_of_the_job():
    now = timezone.now()
    young = PublishJob(uploaded_at=now - timedelta(minutes=1))
    old = PublishJob(uploaded_at=now - timedelta(hours=5))

    assert publishing._next_poll(young, now) - now == publishing.SLOW_POLL_MIN
    assert publishing._next_poll(old, now) - now == publishing.SLOW_POLL_MAX


def test_a_disconnected_connection_fails_the_job_without_a_call(
    mocked, connection, creator, owner_a
):
    job = new_job(connection, creator, owner_a)
    type(connection).objects.filter(pk=connection.pk).update(status="disconnected")

    job = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)

    assert job.status == PublishJob.Status.FAILED
    assert len(mocked.calls) == 0


def test_no_token_reaches_a_log_line_or_the_job(
    mocked, connection, creator, owner_a, caplog, settings
):
    caplog.set_level("DEBUG")
    job = new_job(connection, creator, owner_a)
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__file_upload"))
    mocked.put(UPLOAD_HOST, status=201)
    status(mocked, "publish_complete")

    job = publishing.publish_execute(job_id=job.pk, **NO_SLEEP)

    text = caplog.text + json.dumps(job.options) + job.error
    for secret in ("act.old-access-token", "rft.old-refresh-token", "Xza123"):
        assert secret not in text
