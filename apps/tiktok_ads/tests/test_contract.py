"""TikTok Ads passes the shared provider contract, end to end through the sandbox."""

import pytest

from apps.integrations.tests.contract import ProviderContract

pytestmark = pytest.mark.django_db


class AdsContract(ProviderContract):
    provider_key = "tiktok_ads"
    sandbox_provider = "tiktok_ads"
    packs = ("ads_read", "ads_report")
    test_path = "/oauth2/advertiser/get/"
    token_exchange_path = "/oauth2/access_token/"
    revoke_path = "/oauth2/revoke_token/"


class TestTikTokAdsContract(AdsContract):
    pass
