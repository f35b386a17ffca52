"""Acceptance 3: connect TikTok Content, see the profile on the card, sync, see the videos
with their counts, publish a small video and watch its status reach complete.

Everything goes through a real browser and the sandbox answering over HTTP on
the live server. The django-q cluster does not run here: connecting queues the
syncs and publishing queues the upload, as in production, and the test does
the worker's job itself (``sync_run_execute``, ``publish_execute``) while the
page polls. The sandbox clock (``generator.now``) is frozen and moved by the
worker's waits, so the generated counts and the post's processing are exact.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from apps.integrations.models import SyncRun
from apps.integrations.sync import sync_run_execute
from apps.sandbox import generator
from apps.tiktok_content import publishing
from apps.tiktok_content.models import PublishJob, TikTokVideo
from apps.tiktok_content.tests.videos import write_mp4

from .test_connect_browser import sandbox_on_live_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def run_queued_syncs() -> list[SyncRun]:
    """What a qcluster worker would do with the runs connecting (or "Sync now") queued."""
    runs = list(SyncRun.objects.filter(product="tiktok_content", status=SyncRun.Status.QUEUED))
    assert runs, "nothing was queued"
    for run in sorted(runs, key=lambda r: r.pk):
        sync_run_execute(run_id=run.pk)
    return list(SyncRun.objects.filter(pk__in=[r.pk for r in runs]).order_by("pk"))


def test_connect_see_profile_sync_see_videos_publish_and_watch_it_complete(
    page,
    log_in,
    owner_a,
    sandbox_on_live_server,  # noqa: F811
    settings,
    monkeypatch,
    tmp_path,
):
    settings.TIKTOK_CONTENT_UPLOAD_DIR = tmp_path / "uploads"
    settings.SANDBOX_CONTENT_PROCESSING_SECONDS = 6
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(generator, "now", clock)
    creator = generator.identities("tiktok_content")[0]
    user = generator.content_user(creator.account_id)

    # --- connect -----------------------------------------------------------------------------
    log_in("owner@acme.example")
    page.goto("/integrations/?tab=tiktok")
    card = page.locator("#card-tiktok_content")
    expect(card.get_by_text("Not connected")).to_be_visible()
    expect(card.get_by_label("Publishing")).to_be_checked()
    expect(card.get_by_label("Videos and metrics")).to_be_checked()
    card.get_by_role("button", name="Connect").click()
    expect(page.locator("input[name=scopes][value='video.publish']")).to_be_checked()
    page.get_by_role("button", name="Authorize").click()

    page.wait_for_url("**/integrations/?tab=tiktok")
    expect(page.get_by_text("TikTok Content connected.")).to_be_visible()

    # --- the profile on the card -----------------------------------------------------------------
    card = page.locator("#card-tiktok_content")
    expect(card.locator(".badge").first).to_have_text("Connected")
    expect(card.locator(".ttc-username")).to_have_text(f"@{user['username']}")
    avatar = card.get_by_role("img", name=f"Avatar of {user['display_name']}")
    expect(avatar).to_have_attribute("src", user["avatar_url"])

    # --- sync (connecting queued it; the card polls while it runs) ----------------------------
    expect(card.get_by_role("button", name="Syncing…")).to_be_disabled()
    runs = run_queued_syncs()
    assert {r.kind for r in runs} == {"profile", "videos"}
    assert [r.error for r in runs if r.status != SyncRun.Status.SUCCEEDED] == []
    card = page.locator("#card-tiktok_content")
    expect(card.get_by_role("button", name="Sync now")).to_be_visible(timeout=10_000)
    total = TikTokVideo.objects.count()
    expect(card.get_by_text(f"{total} videos synced")).to_be_visible()
    expect(card.get_by_text(re.compile(r"\d+ followers"))).to_be_visible()

    # --- the videos with their counts ----------------------------------------------------------
    card.get_by_role("link", name="Open the Content page").click()
    page.wait_for_url("**/integrations/tiktok-content/")
    expect(page.get_by_role("heading", name="TikTok Content", exact=True)).to_be_visible()
    newest = TikTokVideo.objects.order_by("-provider_created_at").first()
    row = page.locator(f"#video-{newest.video_id}")
    expect(row).to_contain_text(newest.title)
    expect(row.locator("[data-count=views]")).to_have_text(str(newest.view_count))
    expect(row.locator("[data-count=likes]")).to_have_text(str(newest.like_count))
    expect(row.locator("[data-count=comments]")).to_have_text(str(newest.comment_count))
    expect(row.locator("[data-count=shares]")).to_have_text(str(newest.share_count))
    expect(row.locator("svg.ttc-spark")).to_be_visible()
    expect(page.locator("tr.ttc-video")).to_have_count(min(total, 25))

    # --- publish a small video -------------------------------------------------------------------
    page.get_by_role("link", name="New post").click()
    form = page.locator("#publish-form form")
    expect(form).to_be_visible()
    expect(page.get_by_text(f"Posting as {user['display_name']}.")).to_be_visible()
    # Only what creator_info offers: stitches are off for this creator.
    expect(form.get_by_label("Allow stitches")).to_have_count(0)
    video = write_mp4(tmp_path / "hello.mp4", 2 * 1024 * 1024, duration_s=9)
    form.get_by_label("Video file").set_input_files(str(video))
    form.get_by_label("Caption").fill("Hello from the hub")
    form.get_by_label("Everyone").check()
    form.get_by_label("Allow comments").check()
    page.evaluate("window.__noReload = true")
    form.get_by_role("button", name="Publish").click()

    expect(page.get_by_text("Post queued: the upload starts in a moment.")).to_be_visible()
    expect(page.locator("#publish")).to_have_count(1)  # the section replaced, not nested
    expect(page.get_by_role("heading", name="Recent posts")).to_have_count(1)
    job = PublishJob.objects.get()
    post = page.locator(f"#post-{job.pk}")
    expect(post).to_have_attribute("data-status", "queued")

    # The worker: init, one chunk (2 MB is sent whole), then the status every few seconds.
    def worker_sleep(seconds: float) -> None:
        clock.now += timedelta(seconds=seconds)
        time.sleep(0.5)

    job = publishing.publish_execute(job_id=job.pk, sleep=worker_sleep)
    assert job.status == PublishJob.Status.COMPLETE, job.error
    assert (job.total_chunk_count, job.uploaded_bytes) == (1, 2 * 1024 * 1024)

    # The page polled the post into its final state, without a reload.
    expect(post).to_have_attribute("data-status", "complete", timeout=10_000)
    expect(post.get_by_text("Published on TikTok.")).to_be_visible()
    expect(post.locator("progress")).to_have_attribute("value", "100")
    assert page.evaluate("window.__noReload") is True
