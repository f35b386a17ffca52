"""TikTok Shop passes the shared provider contract, end to end through the sandbox."""

import pytest

from apps.integrations.tests.contract import ProviderContract

pytestmark = pytest.mark.django_db


class TestTikTokShopContract(ProviderContract):
    provider_key = "tiktok_shop"
    sandbox_provider = "tiktok_shop"
    packs = ("shop_catalog", "shop_orders")
    test_path = "/authorization/202309/shops"
    token_exchange_path = "/api/v2/token/get"
    refresh_path = "/api/v2/token/refresh"
