"""The Content page, the publish form and a post's progress, through the views."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection as db
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.integrations.testing import load_fixture
from apps.tiktok_content.models import (
    PublishJob,
    TikTokCreatorProfile,
    TikTokVideo,
    TikTokVideoDailySnapshot,
)

from .conftest import API, APP, make_connection
from .videos import MiB, mp4_upload

pytestmark = pytest.mark.django_db

CREATOR_URL = f"{API}/v2/post/publish/creator_info/query/"
HTMX = {"HX-Request": "true"}
CONTENT = reverse("tiktok_content:content")
PUBLISH = reverse("tiktok_content:publish")


def add_videos(connection, count: int, *, days: int = 3) -> list[TikTokVideo]:
    now = timezone.now()
    videos = []
    for n in range(count):
        video = TikTokVideo.objects.create(
            tenant_id=connection.tenant_id,
            connection=connection,
            video_id=f"74{n:017d}",
            title=f"Video {n}",
            view_count=1000 + n,
            like_count=100 + n,
            comment_count=10 + n,
            share_count=n,
            provider_created_at=now - timedelta(days=n),
            synced_at=now,
        )
        for day in range(days):
            TikTokVideoDailySnapshot.objects.create(
                tenant_id=connection.tenant_id,
                video=video,
                date=timezone.localdate() - timedelta(days=days - 1 - day),
                view_count=500 + 250 * day + n,
                synced_at=now,
            )
        videos.append(video)
    return videos


# --- the Content page -------------------------------------------------------------------------


def test_members_see_videos_with_counts_and_a_trend_chart(member_client, tenant_a):
    connection = make_connection(tenant_a)
    add_videos(connection, 2)

    page = member_client.get(CONTENT)

    assert page.status_code == 200
    body = page.content.decode()
    assert "Video 0" in body and "Video 1" in body
    assert 'data-count="views">1000<' in body and 'data-count="likes">101<' in body
    assert body.count("<svg") == 2 and "<polyline" in body
    assert "Views over 3 day(s): 500 to 1000" in body
    assert "2 videos: 2.0K views" in body
    # Members look; only admins publish.
    assert "Only tenant admins can publish." in body


def test_the_page_costs_the_same_queries_for_1_and_20_videos(owner_client, tenant_a):
    connection = make_connection(tenant_a)
    add_videos(connection, 1)
    owner_client.get(CONTENT)  # warm the session and the user
    with CaptureQueriesContext(db) as one:
        owner_client.get(CONTENT)
    add_videos_more = add_videos  # same helper, other ids
    TikTokVideo.objects.all().delete()
    add_videos_more(connection, 20, days=10)
    with CaptureQueriesContext(db) as twenty:
        owner_client.get(CONTENT)

    assert len(twenty.captured_queries) == len(one.captured_queries)


def test_not_connected_says_so(member_client, tenant_a):
    body = member_client.get(CONTENT).content.decode()

    assert "TikTok Content is not connected yet." in body


def test_without_the_videos_pack_the_page_says_what_to_reconnect_with(member_client, tenant_a):
    make_connection(tenant_a, scopes=["user.info.basic", "video.publish"])

    body = member_client.get(CONTENT).content.decode()

    assert "Videos and metrics" in body and "video.list" in body


def test_without_the_publish_pack_the_page_explains_what_to_reconnect_with(
    owner_client, tenant_a, mocked
):
    make_connection(tenant_a, scopes=["user.info.basic", "video.list"])

    body = owner_client.get(CONTENT).content.decode()
    form = owner_client.get(PUBLISH, headers=HTMX).content.decode()

    for text in (body, form):
        assert "Publishing needs the Publishing pack (video.publish, video.upload)" in text
        assert "Reconnect TikTok Content on the hub" in text
    assert "New post" not in body
    assert len(mocked.calls) == 0


def test_another_tenants_videos_never_show(member_client, tenant_a, tenant_b):
    add_videos(make_connection(tenant_b), 1)
    make_connection(tenant_a)

    body = member_client.get(CONTENT).content.decode()

    assert "Video 0" not in body


# --- the publish form ------------------------------------------------------------------------


def test_the_form_offers_only_what_creator_info_allows(owner_client, tenant_a, mocked):
    make_connection(tenant_a)
    mocked.post(
        CREATOR_URL, json=load_fixture(APP, "post_publish_creator_info_query__private_account")
    )

    form = owner_client.get(PUBLISH, headers=HTMX).content.decode()

    assert len(mocked.calls) == 1
    assert 'value="FOLLOWER_OF_CREATOR"' in form and 'value="SELF_ONLY"' in form
    assert 'value="PUBLIC_TO_EVERYONE"' not in form
    assert "checked" not in form.split('name="privacy_level"')[1].split(">")[0]  # none preselected
    # comments, duets and stitches are all off for this creator
    for switch in ("allow_comment", "allow_duet", "allow_stitch"):
        assert f'name="{switch}"' not in form
    assert "Turned off for this account in TikTok: comments, duets, stitches." in form
    assert "up to 60 seconds" in form
    assert 'name="video_url"' not in form  # no verified URL prefix
    assert 'name="csrfmiddlewaretoken"' in form


def test_the_form_offers_pulling_from_a_url_when_a_prefix_is_verified(
    owner_client, tenant_a, mocked, settings
):
    settings.TIKTOK_CONTENT_PULL_FROM_URL_PREFIXES = ["https://media.acme.example/"]
    make_connection(tenant_a)
    mocked.post(CREATOR_URL, json=load_fixture(APP, "post_publish_creator_info_query__success"))

    form = owner_client.get(PUBLISH).content.decode()

    assert 'name="video_url"' in form
    assert 'name="allow_comment"' in form and 'name="allow_stitch"' not in form


def test_members_cannot_open_the_form(member_client, tenant_a, mocked):
    make_connection(tenant_a)

    assert member_client.get(PUBLISH).status_code == 403
    assert member_client.post(PUBLISH).status_code == 403
    assert len(mocked.calls) == 0


def post_form(client, **fields):
    data = {
        "mode": "direct",
        "title": "Lemon pasta",
        "privacy_level": "SELF_ONLY",
        "allow_comment": "on",
        "video_file": mp4_upload(MiB),
        **fields,
    }
    return client.post(PUBLISH, data)


def test_posting_the_form_queues_a_job_with_the_chosen_options(
    owner_client, owner_a, tenant_a, mocked, monkeypatch
):
    queued = []
    monkeypatch.setattr("apps.tiktok_content.publishing.enqueue", lambda *a: queued.append(a))
    make_connection(tenant_a)
    mocked.post(CREATOR_URL, json=load_fixture(APP, "post_publish_creator_info_query__success"))
    owner_client.get(PUBLISH)

    response = post_form(owner_client)

    assert response.status_code == 302
    job = PublishJob.objects.get()
    assert response["Location"] == f"{CONTENT}#post-{job.pk}"
    assert job.created_by == owner_a and job.status == "queued"
    assert job.options["post_info"] == {
        "title": "Lemon pasta",
        "privacy_level": "SELF_ONLY",
        "disable_comment": False,
        "disable_duet": True,
        "disable_stitch": True,
        "brand_organic_toggle": False,
        "brand_content_toggle": False,
    }
    assert queued == [("apps.tiktok_content.tasks.run_publish", job.pk)]
    assert len(mocked.calls) == 1  # creator_info once, at GET; the POST used that answer


def test_an_htmx_post_returns_the_section_with_the_job_polling(
    owner_client, tenant_a, mocked, monkeypatch
):
    monkeypatch.setattr("apps.tiktok_content.publishing.enqueue", lambda *a: None)
    make_connection(tenant_a)
    mocked.post(CREATOR_URL, json=load_fixture(APP, "post_publish_creator_info_query__success"))
    owner_client.get(PUBLISH, headers=HTMX)

    response = owner_client.post(
        PUBLISH,
        {"mode": "direct", "privacy_level": "SELF_ONLY", "video_file": mp4_upload(MiB)},
        headers=HTMX,
    )
    body = response.content.decode()

    job = PublishJob.objects.get()
    assert response["HX-Retarget"] == "#publish" and response["HX-Reswap"] == "outerHTML"
    assert body.lstrip().startswith('<section id="publish"')
    assert f'id="post-{job.pk}"' in body
    assert 'hx-trigger="every 2s"' in body
    assert "Post queued" in body


def test_a_bad_file_is_refused_in_the_form_without_a_call(owner_client, tenant_a, mocked):
    make_connection(tenant_a)
    mocked.post(CREATOR_URL, json=load_fixture(APP, "post_publish_creator_info_query__success"))
    owner_client.get(PUBLISH)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = owner_client.post(
        PUBLISH,
        {
            "mode": "direct",
            "privacy_level": "SELF_ONLY",
            "video_file": SimpleUploadedFile("clip.mp4", b"plain text" * 50, "video/mp4"),
        },
    )

    assert response.status_code == 200
    assert "This file is not a valid MP4 video." in response.content.decode()
    assert len(mocked.calls) == 1
    assert not PublishJob.objects.exists()


def test_the_audience_must_be_chosen(owner_client, tenant_a, mocked):
    make_connection(tenant_a)
    mocked.post(CREATOR_URL, json=load_fixture(APP, "post_publish_creator_info_query__success"))
    owner_client.get(PUBLISH)

    response = owner_client.post(PUBLISH, {"mode": "direct", "video_file": mp4_upload(MiB)})

    assert "Choose who can see the video." in response.content.decode()
    assert not PublishJob.objects.exists()


def test_the_form_needs_the_csrf_token(owner_a, tenant_a, mocked):
    make_connection(tenant_a)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner_a)

    response = browser.post(PUBLISH, {"mode": "direct", "privacy_level": "SELF_ONLY"})

    assert response.status_code == 403
    assert len(mocked.calls) == 0


# --- a post's progress ---------------------------------------------------------------------------


def test_a_running_job_polls_itself_and_a_finished_one_stops(member_client, tenant_a):
    connection = make_connection(tenant_a)
    job = PublishJob.objects.create(
        tenant=tenant_a,
        connection=connection,
        source="FILE_UPLOAD",
        status="uploading",
        progress=30,
        options={"title": "Lemon pasta"},
    )
    url = reverse("tiktok_content:publish_job", args=[job.pk])

    running = member_client.get(url, headers=HTMX).content.decode()
    PublishJob.objects.filter(pk=job.pk).update(
        status="complete", progress=100, provider_status="PUBLISH_COMPLETE"
    )
    done = member_client.get(url, headers=HTMX).content.decode()
    page = member_client.get(url)

    assert 'hx-trigger="every 2s"' in running and 'value="30"' in running
    assert "hx-trigger" not in done and "Published on TikTok." in done
    assert page.status_code == 200 and "<html" in page.content.decode()


def test_the_card_shows_the_profile(owner_client, tenant_a):
    connection = make_connection(tenant_a, assets={"username": "ana.creates", "avatar_url": ""})
    TikTokCreatorProfile.objects.create(
        tenant=tenant_a,
        connection=connection,
        display_name="Ana Creates",
        username="ana.creates",
        avatar_url="https://p16-sign.tiktokcdn-us.com/avatar.jpeg",
        follower_count=48213,
        synced_at=timezone.now(),
    )
    add_videos(connection, 3, days=1)

    card = owner_client.get(reverse("integrations:card", args=["tiktok_content"])).content.decode()

    assert "@ana.creates" in card
    assert 'src="https://p16-sign.tiktokcdn-us.com/avatar.jpeg"' in card
    assert 'alt="Avatar of Ana Creates"' in card
    assert "48213 followers" in card
    assert "3 videos synced" in card
    assert reverse("tiktok_content:content") in card


def test_before_the_first_profile_sync_the_card_uses_what_connect_stored(owner_client, tenant_a):
    make_connection(
        tenant_a, assets={"username": "ana.creates", "avatar_url": "https://cdn.example/a.jpeg"}
    )

    card = owner_client.get(reverse("integrations:card", args=["tiktok_content"])).content.decode()

    assert "@ana.creates" in card and 'src="https://cdn.example/a.jpeg"' in card
