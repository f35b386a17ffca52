"""TikTokContentClient: ``video/list`` and the Content Posting calls on the wire, and each
error class with a real-shaped fixture per endpoint.

Error classes (acceptance 1): an expired token is refreshed once and the call
retried; a missing scope is ``PermissionDenied``; throttling is
``RateLimited`` (waited out when short); upload rule violations are
``ProviderError`` carrying TikTok's code and log id.
"""

from __future__ import annotations

import json

import pytest
from responses import matchers

from apps.integrations.http import PermissionDenied, ProviderError, RateLimited
from apps.integrations.testing import load_fixture
from apps.tiktok_content.client import TikTokContentClient

from .conftest import API, APP, UPLOAD_URL

pytestmark = pytest.mark.django_db

VIDEO_LIST_URL = f"{API}/v2/video/list/"
CREATOR_URL = f"{API}/v2/post/publish/creator_info/query/"
INIT_URL = f"{API}/v2/post/publish/video/init/"
INBOX_URL = f"{API}/v2/post/publish/inbox/video/init/"
STATUS_URL = f"{API}/v2/post/publish/status/fetch/"
TOKEN_URL = f"{API}/v2/oauth/token/"


def body_of(call) -> dict:
    return json.loads(call.request.body)


# --- on the wire ---------------------------------------------------------------------------


def test_video_list_posts_cursor_and_max_count_with_the_fields_in_the_query(mocked):
    mocked.post(VIDEO_LIST_URL, json=load_fixture(APP, "video_list__page2"))

    data = TikTokContentClient(access_token="act.current").video_list(
        fields=["id", "view_count"], cursor=1794657600000
    )

    request = mocked.calls[0].request
    assert request.url == f"{VIDEO_LIST_URL}?fields=id%2Cview_count"
    assert request.headers["Authorization"] == "Bearer act.current"
    assert body_of(mocked.calls[0]) == {"max_count": 20, "cursor": 1794657600000}
    assert [v["id"] for v in data["videos"]] == ["7431000000000000017", "7429999999999999999"]
    assert data["has_more"] is False


def test_the_first_video_page_sends_no_cursor(mocked):
    mocked.post(VIDEO_LIST_URL, json=load_fixture(APP, "video_list__page1"))

    TikTokContentClient(access_token="act.current").video_list(fields=["id"])

    assert body_of(mocked.calls[0]) == {"max_count": 20}


def test_creator_info_is_a_post_without_a_body(mocked):
    mocked.post(CREATOR_URL, json=load_fixture(APP, "post_publish_creator_info_query__success"))

    data = TikTokContentClient(access_token="act.current").creator_info()

    assert mocked.calls[0].request.body is None
    assert mocked.calls[0].request.headers["Content-Type"].startswith("application/json")
    assert data["privacy_level_options"][0] == "PUBLIC_TO_EVERYONE"
    assert data["max_video_post_duration_sec"] == 300


def test_direct_post_init_sends_post_info_and_source_info(mocked):
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__file_upload"))
    post_info = {"title": "Hi", "privacy_level": "SELF_ONLY", "disable_duet": True}
    source_info = {
        "source": "FILE_UPLOAD",
        "video_size": 5,
        "chunk_size": 5,
        "total_chunk_count": 1,
    }

    data = TikTokContentClient(access_token="act.current").publish_video_init(
        post_info=post_info, source_info=source_info
    )

    assert body_of(mocked.calls[0]) == {"post_info": post_info, "source_info": source_info}
    assert data == {"publish_id": "v_pub_file~v2-1.7437712345678901234", "upload_url": UPLOAD_URL}


def test_pull_from_url_init_answers_without_an_upload_url(mocked):
    mocked.post(INIT_URL, json=load_fixture(APP, "post_publish_video_init__pull_from_url"))

    data = TikTokContentClient(access_token="act.current").publish_video_init(
        post_info={"privacy_level": "SELF_ONLY"},
        source_info={"source": "PULL_FROM_URL", "video_url": "https://media.example/v.mp4"},
    )

    assert data == {"publish_id": "v_pub_url~v2-1.7437712345678901235"}


def test_inbox_init_sends_source_info_only(mocked):
    mocked.post(INBOX_URL, json=load_fixture(APP, "post_publish_inbox_video_init__file_upload"))
    source_info = {
        "source": "FILE_UPLOAD",
        "video_size": 5,
        "chunk_size": 5,
        "total_chunk_count": 1,
    }

    data = TikTokContentClient(access_token="act.current").inbox_video_init(source_info=source_info)

    assert body_of(mocked.calls[0]) == {"source_info": source_info}
    assert data["publish_id"].startswith("v_inbox_file~")


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("post_publish_status_fetch__processing_upload", "PROCESSING_UPLOAD"),
        ("post_publish_status_fetch__processing_download", "PROCESSING_DOWNLOAD"),
        ("post_publish_status_fetch__publish_complete", "PUBLISH_COMPLETE"),
        ("post_publish_status_fetch__publish_complete_in_moderation", "PUBLISH_COMPLETE"),
        ("post_publish_status_fetch__send_to_user_inbox", "SEND_TO_USER_INBOX"),
        ("post_publish_status_fetch__failed", "FAILED"),
    ],
)
def test_status_fetch_posts_the_publish_id(mocked, fixture, status):
    mocked.post(STATUS_URL, json=load_fixture(APP, fixture))

    data = TikTokContentClient(access_token="act.current").publish_status(publish_id="v_pub_1")

    assert body_of(mocked.calls[0]) == {"publish_id": "v_pub_1"}
    assert data["status"] == status


def test_an_init_is_never_repeated_on_a_server_error(mocked):
    mocked.post(INIT_URL, status=500, json={"data": {}, "error": {"code": "internal_error"}})

    with pytest.raises(ProviderError):
        TikTokContentClient(access_token="act.current").publish_video_init(
            post_info={}, source_info={}
        )

    assert len(mocked.calls) == 1


# --- error classes, one fixture per endpoint -------------------------------------------------------


ENDPOINTS = {
    "video_list": (VIDEO_LIST_URL, lambda c: c.video_list(fields=["id"])),
    "post_publish_creator_info_query": (CREATOR_URL, lambda c: c.creator_info()),
    "post_publish_video_init": (
        INIT_URL,
        lambda c: c.publish_video_init(post_info={}, source_info={}),
    ),
    "post_publish_status_fetch": (STATUS_URL, lambda c: c.publish_status(publish_id="p")),
}


@pytest.mark.parametrize(
    ("endpoint", "fixture", "status"),
    [
        ("video_list", "video_list__scope_not_authorized", 401),
        (
            "post_publish_creator_info_query",
            "post_publish_creator_info_query__scope_not_authorized",
            401,
        ),
        ("post_publish_video_init", "post_publish_video_init__scope_not_authorized", 401),
    ],
)
def test_a_missing_scope_is_permission_denied(mocked, endpoint, fixture, status):
    url, call = ENDPOINTS[endpoint]
    mocked.post(url, status=status, json=load_fixture(APP, fixture))

    with pytest.raises(PermissionDenied) as refused:
        call(TikTokContentClient(access_token="act.current"))

    assert refused.value.code == "scope_not_authorized"
    assert refused.value.request_id == load_fixture(APP, fixture)["error"]["log_id"]


@pytest.mark.parametrize(
    ("endpoint", "fixture"),
    [
        ("video_list", "video_list__rate_limit_exceeded"),
        ("post_publish_creator_info_query", "post_publish_creator_info_query__rate_limit_exceeded"),
        ("post_publish_video_init", "post_publish_video_init__rate_limit_exceeded"),
        ("post_publish_status_fetch", "post_publish_status_fetch__rate_limit_exceeded"),
    ],
)
def test_throttling_is_rate_limited_and_a_long_wait_is_not_held(mocked, endpoint, fixture):
    url, call = ENDPOINTS[endpoint]
    mocked.post(url, status=429, json=load_fixture(APP, fixture), headers={"Retry-After": "60"})
    client = TikTokContentClient(access_token="act.current")
    client._sleep = lambda s: pytest.fail("a 60 s wait must not be held by a worker")

    with pytest.raises(RateLimited) as throttled:
        call(client)

    assert throttled.value.retry_after == 60.0
    assert len(mocked.calls) == 1


def test_a_short_throttle_on_a_read_is_waited_out(mocked):
    mocked.post(
        VIDEO_LIST_URL,
        status=429,
        json=load_fixture(APP, "video_list__rate_limit_exceeded"),
        headers={"Retry-After": "2"},
    )
    mocked.post(VIDEO_LIST_URL, json=load_fixture(APP, "video_list__page1"))
    client = TikTokContentClient(access_token="act.current")
    waits: list[float] = []
    client._sleep = waits.append

    data = client.video_list(fields=["id"])

    assert waits == [2.0]
    assert len(data["videos"]) == 3


@pytest.mark.parametrize(
    ("endpoint", "fixture", "ok"),
    [
        ("video_list", "video_list__access_token_invalid", "video_list__page1"),
        (
            "post_publish_video_init",
            "post_publish_video_init__access_token_invalid",
            "post_publish_video_init__file_upload",
        ),
    ],
)
def test_an_expired_token_is_refreshed_once_and_the_call_retried(mocked, endpoint, fixture, ok):
    """Even the init (never repeated otherwise): TikTok refused it, so nothing was posted."""
    url, call = ENDPOINTS[endpoint]
    mocked.post(
        url,
        status=401,
        json=load_fixture(APP, fixture),
        match=[matchers.header_matcher({"Authorization": "Bearer act.expired"})],
    )
    mocked.post(
        url,
        json=load_fixture(APP, ok),
        match=[matchers.header_matcher({"Authorization": "Bearer act.fresh"})],
    )
    refreshed: list[str] = []

    def refresher() -> str:
        refreshed.append("once")
        return "act.fresh"

    client = TikTokContentClient(access_token="act.expired", token_refresher=refresher)
    assert call(client)
    assert refreshed == ["once"]
    assert len(mocked.calls) == 2


@pytest.mark.parametrize(
    ("fixture", "code"),
    [
        ("post_publish_video_init__invalid_params_chunk", "invalid_params"),
        ("post_publish_video_init__privacy_level_option_mismatch", "invalid_params"),
        ("post_publish_video_init__url_ownership_unverified", "url_ownership_unverified"),
        ("post_publish_video_init__spam_risk_too_many_posts", "spam_risk_too_many_posts"),
    ],
)
def test_posting_refusals_are_provider_errors_with_code_and_log_id(mocked, fixture, code):
    body = load_fixture(APP, fixture)
    mocked.post(INIT_URL, status=403 if code == "url_ownership_unverified" else 400, json=body)

    with pytest.raises(ProviderError) as refused:
        TikTokContentClient(access_token="act.current").publish_video_init(
            post_info={}, source_info={}
        )

    assert type(refused.value) is ProviderError
    assert refused.value.code == code
    assert refused.value.request_id == body["error"]["log_id"]
    assert body["error"]["message"] in str(refused.value)


@pytest.mark.parametrize(
    ("fixture", "status"),
    [("upload_video__content_range_mismatch", 400), ("upload_video__out_of_order", 416)],
)
def test_an_upload_rule_violation_on_a_chunk_is_a_provider_error(mocked, fixture, status):
    body = load_fixture(APP, fixture)
    mocked.put(UPLOAD_URL, status=status, json=body)

    with pytest.raises(ProviderError) as refused:
        TikTokContentClient().upload_chunk(
            upload_url=UPLOAD_URL,
            chunk=b"x" * 10,
            first=10_000_000,
            last=10_000_009,
            total=30_000_000,
            content_type="video/mp4",
        )

    assert refused.value.code == "invalid_file_upload"
    assert refused.value.status_code == status
    assert refused.value.request_id == body["error"]["log_id"]
    assert not refused.value.transient
