"""Fixtures shared by the TikTok Content tests: real hosts, a connection, a creator."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from apps.integrations.testing import load_fixture
from apps.tiktok_content.models import TikTokContentConnection
from apps.tiktok_content.publishing import CreatorInfo

APP = "tiktok_content"
API = "https://open.tiktokapis.com"
UPLOAD_URL = "https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token=Xza123"
ALL_SCOPES = [
    "user.info.basic",
    "user.info.profile",
    "user.info.stats",
    "video.list",
    "video.publish",
    "video.upload",
]


@pytest.fixture
def real_hosts(settings, tmp_path):
    """Calls go to TikTok's real hosts, which ``responses`` answers; uploads wait in tmp."""
    settings.TIKTOK_CONTENT_API_BASE = API
    settings.TIKTOK_CONTENT_AUTHORIZE_URL = "https://www.tiktok.com/v2/auth/authorize"
    settings.TIKTOK_CONTENT_CLIENT_KEY = "testclientkey"
    settings.TIKTOK_CONTENT_CLIENT_SECRET = "test-client-secret"
    settings.TIKTOK_CONTENT_UPLOAD_DIR = tmp_path / "uploads"
    return settings


@pytest.fixture
def mocked(real_hosts):
    with responses.RequestsMock() as rsps:
        yield rsps


def make_connection(tenant, *, scopes=None, **extra) -> TikTokContentConnection:
    now = timezone.now()
    created = TikTokContentConnection.objects.create(
        tenant=tenant,
        access_token="act.old-access-token",
        refresh_token="rft.old-refresh-token",
        access_expires_at=now + timedelta(hours=2),
        refresh_expires_at=now + timedelta(days=170),
        granted_scopes=list(ALL_SCOPES if scopes is None else scopes),
        scope_packs=["content_publish", "content_analytics"],
        external_user_id="-000Ab1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV",
        display_name="Ana Creates",
        **extra,
    )
    # Tokens as Secrets, as callers see them.
    return TikTokContentConnection.objects.get(pk=created.pk)


@pytest.fixture
def connection(tenant_a) -> TikTokContentConnection:
    return make_connection(tenant_a)


@pytest.fixture
def creator() -> CreatorInfo:
    return CreatorInfo.from_answer(
        load_fixture(APP, "post_publish_creator_info_query__success")["data"]
    )
