"""TikTok Content passes the shared provider contract, end to end through the sandbox."""

import pytest

from apps.integrations.http import TokenExpired
from apps.integrations.tests.contract import ProviderContract
from apps.tiktok_content.client import TikTokContentClient

pytestmark = pytest.mark.django_db


class TestTikTokContentContract(ProviderContract):
    provider_key = "tiktok_content"
    sandbox_provider = "tiktok_content"
    packs = ("content_publish", "content_analytics")
    declinable_scope = "video.publish"
    test_path = "/v2/user/info/"
    token_exchange_path = "/v2/oauth/token/"
    refresh_path = "/v2/oauth/token/"
    revoke_path = "/v2/oauth/revoke/"

    def assert_refresh_rotation(self, conn, old_refresh: str) -> None:
        # Login Kit rotates: the new refresh token differs and the old one is dead.
        assert conn.refresh_token.reveal() != old_refresh
        with pytest.raises(TokenExpired):
            TikTokContentClient().token_refresh(refresh_token=old_refresh)
